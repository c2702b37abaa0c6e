package readiness

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// BootParams are what a rendered boot script says about its readiness signal.
type BootParams struct {
	// ReadyPrefix is the path the host writes its signal under, <prefix>/<instance id>.
	ReadyPrefix string
	// Fingerprint is what the host signals.
	Fingerprint string
	// Ports are the ports the boot waits on its services at (wait_ready <port>): where the host serves once ready.
	Ports []int
	// Paths are, by port, the paths the boot waits on there (wait_ready <port> <health path> <ready path>).
	Paths map[int][]string
}

// ParseUserData reads the readiness prefix and fingerprint out of an instance's user data: the plain script
// (userData), or the base64 of a gzipped one (userDataBase64), as cloud-init would unpack it. Stand-ins use it
// to answer for the host the way its boot would. User data that is no appstack boot script gives empty
// BootParams; an error means the user data could not be decoded.
func ParseUserData(userData, userDataBase64 string) (BootParams, error) {
	script := userData
	if script == "" && userDataBase64 != "" {
		raw, err := base64.StdEncoding.DecodeString(userDataBase64)
		if err != nil {
			return BootParams{}, fmt.Errorf("userDataBase64: %w", err)
		}
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if raw, err = io.ReadAll(zr); err != nil {
				return BootParams{}, fmt.Errorf("userDataBase64: gzip: %w", err)
			}
		}
		script = string(raw)
	}
	var p BootParams
	for line := range strings.Lines(script) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "ready_prefix="); ok {
			p.ReadyPrefix = strings.Trim(v, `'"`)
		}
		if v, ok := strings.CutPrefix(line, "fingerprint="); ok {
			p.Fingerprint = strings.Trim(v, `'"`)
		}
		if v, ok := strings.CutPrefix(line, "wait_ready "); ok {
			fields := strings.Fields(v)
			if port, err := strconv.Atoi(fields[0]); err == nil {
				p.Ports = append(p.Ports, port)
				for _, f := range fields[1:] {
					if path := strings.Trim(f, `'"`); strings.HasPrefix(path, "/") {
						if p.Paths == nil {
							p.Paths = map[int][]string{}
						}
						p.Paths[port] = append(p.Paths[port], path)
					}
				}
			}
		}
	}
	if p.ReadyPrefix == "" || !fingerprintRE.MatchString(p.Fingerprint) {
		return BootParams{}, nil
	}
	return p, nil
}
