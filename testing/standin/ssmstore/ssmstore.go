// Package ssmstore is the stand-ins' parameter store: a JSON file that outlives each plugin process as SSM
// outlives a `pulumi up`, where the modelled hosts' boots leave their readiness signals. The stand-in provider
// (boots of single hosts and of a group's first instances) and the Auto Scaling stand-in (boots during an
// instance refresh) share it, under an exclusive file lock. It is test scaffolding, not SSM.
//
//	APPSTACK_STANDIN_SSM    the store (JSON); without it the store lives in the process, for one run
//	APPSTACK_STANDIN_BOOTS  the boots' outcomes, one a line, used in order of launch (offline.BootOutcome);
//	                        once used up every boot ends ready
package ssmstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"

	"appstack/components/readiness"
	"appstack/testing/standin/jsonfile"
)

// State is the store's content.
type State struct {
	Parameters map[string]string `json:"parameters"`
	// BootsUsed is how many lines of the outcomes file the launched hosts have used.
	BootsUsed int `json:"bootsUsed"`
}

// Store is the store in File ("" keeps it in memory) with the outcomes in Boots.
type Store struct {
	File, Boots string

	mu     sync.Mutex
	memory *State
}

// FromEnv is the store the environment names.
func FromEnv() *Store {
	return &Store{File: os.Getenv("APPSTACK_STANDIN_SSM"), Boots: os.Getenv("APPSTACK_STANDIN_BOOTS")}
}

// Update runs f on the store under an exclusive lock and saves what f changed when it returns nil.
func (s *Store) Update(f func(*State) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.File == "" {
		st := &State{Parameters: map[string]string{}}
		if s.memory != nil {
			raw, err := json.Marshal(s.memory)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, st); err != nil {
				return err
			}
		}
		if err := f(st); err != nil {
			return err
		}
		s.memory = st
		return nil
	}
	st := &State{Parameters: map[string]string{}}
	return jsonfile.Update(s.File, s.File+".lock", "stand-in parameter store", st, func() error {
		if st.Parameters == nil {
			st.Parameters = map[string]string{}
		}
		return f(st)
	})
}

// Read returns a copy of the store.
func (s *Store) Read() (*State, error) {
	var out *State
	err := s.Update(func(st *State) error {
		out = st
		return nil
	})
	return out, err
}

// outcomes are the lines of the outcomes file.
func (s *Store) outcomes() ([]string, error) {
	if s.Boots == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(s.Boots)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(raw)) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// Boot models the boot of a launched host from its user data (plain or base64), as the boot script would run
// it: the next outcome decides the signal it leaves (readiness.ModelledSignal, readiness.RecordSignal), the same
// model as the offline mocks' Boot. It returns that outcome. Every launch uses one, as the stand-in provider has
// always counted them; a host whose user data is no appstack boot script writes no signal.
func (s *Store) Boot(instanceID, userData, userDataBase64 string) (string, error) {
	p, err := readiness.ParseUserData(userData, userDataBase64)
	if err != nil {
		return "", fmt.Errorf("instance %s: %w", instanceID, err)
	}
	all, err := s.outcomes()
	if err != nil {
		return "", err
	}
	outcome := readiness.Ready
	err = s.Update(func(st *State) error {
		if st.BootsUsed < len(all) {
			outcome = all[st.BootsUsed]
		}
		st.BootsUsed++
		if p.ReadyPrefix == "" {
			return nil // not an appstack host: nothing in it writes a signal
		}
		value, ok, err := readiness.ModelledSignal(outcome, p.Fingerprint)
		if err != nil || !ok {
			return err
		}
		readiness.RecordSignal(st.Parameters, p.ReadyPrefix, instanceID, p.Fingerprint, value)
		return nil
	})
	return outcome, err
}
