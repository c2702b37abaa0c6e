package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// Lock is a DIY backend's state lock: the file `pulumi up`, `destroy` and `refresh` write under
// .pulumi/locks/<organization>/<project>/<stack>/ in the state bucket before they change a stack, and delete
// when they end (pulumi/pulumi v3.200.0, pkg/backend/diy/lock.go: Lock writes lockContent, checkForLock refuses
// any other lock file). A job cancelled halfway never deletes it.
type Lock struct {
	// Key is the lock file's path in the backend.
	Key string
	// Pid, Username, Hostname and Timestamp are what the holder wrote (lock.go's lockContent).
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

func (l Lock) String() string {
	return fmt.Sprintf("%s: held by %s@%s (pid %d) since %s", l.Key, l.Username, l.Hostname, l.Pid,
		l.Timestamp.UTC().Format(time.RFC3339))
}

// ErrLockTooYoung refuses to release a lock that a running deploy may still hold.
var ErrLockTooYoung = errors.New("the lock is younger than the minimum age: a deploy may still be running")

// Unlock releases a stack's state lock in a DIY backend, as `pulumi cancel` does for one (it deletes every file
// under the stack's lock directory: pkg/backend/diy/backend.go, CancelCurrentUpdate), but only after it printed
// who holds it and only when every lock is at least minAge old, unless force. It returns the locks it released.
func (m *Manager) Unlock(ctx context.Context, name string, minAge time.Duration, force bool) ([]Lock, error) {
	ws, err := m.workspace(ctx)
	if err != nil {
		return nil, err
	}
	who, err := ws.WhoAmIDetails(ctx)
	if err != nil {
		return nil, fmt.Errorf("stack %s: which backend: %w", name, err)
	}
	return m.ReleaseLocks(ctx, who.URL, name, minAge, force)
}

// ReleaseLocks is Unlock on a given DIY backend URL (file:// or s3://), as `pulumi whoami --json` reports it.
func (m *Manager) ReleaseLocks(ctx context.Context, backend, name string, minAge time.Duration, force bool) ([]Lock,
	error,
) {
	project, err := workspace.LoadProject(filepath.Join(m.Dir, "Pulumi.yaml"))
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, backend)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", name, err)
	}
	var locks []Lock
	// Project-scoped stacks (the layout since CLI 3.61) and the legacy layout.
	for _, dir := range []string{path.Join(".pulumi/locks/organization", string(project.Name), name),
		path.Join(".pulumi/locks", name)} {
		keys, err := store.list(ctx, dir+"/")
		if err != nil {
			return nil, fmt.Errorf("stack %s: listing %s: %w", name, dir, err)
		}
		for _, key := range keys {
			raw, err := store.read(ctx, key)
			if err != nil {
				return nil, fmt.Errorf("stack %s: reading %s: %w", name, key, err)
			}
			l := Lock{Key: key}
			if err := json.Unmarshal(raw, &l); err != nil {
				return nil, fmt.Errorf("stack %s: lock %s is not a Pulumi lock file: %w", name, key, err)
			}
			locks = append(locks, l)
		}
	}
	if len(locks) == 0 {
		m.progress(name, "no state lock in %s", backend)
		return nil, nil
	}
	var young []string
	for _, l := range locks {
		age := m.now().Sub(l.Timestamp).Round(time.Second)
		m.progress(name, "lock %s (%s old)", l, age)
		if age < minAge {
			young = append(young, fmt.Sprintf("%s is %s old", l.Key, age))
		}
	}
	if len(young) > 0 && !force {
		return nil, fmt.Errorf("stack %s: %w (%s, minimum %s): make sure no workflow run or person is deploying "+
			"it, then wait or pass -force", name, ErrLockTooYoung, strings.Join(young, "; "), minAge)
	}
	for _, l := range locks {
		if err := store.remove(ctx, l.Key); err != nil {
			return nil, fmt.Errorf("stack %s: deleting %s: %w", name, l.Key, err)
		}
		m.progress(name, "released %s", l.Key)
	}
	return locks, nil
}

// store is the little of a backend bucket that Unlock needs.
type store interface {
	list(ctx context.Context, prefix string) ([]string, error)
	read(ctx context.Context, key string) ([]byte, error)
	remove(ctx context.Context, key string) error
}

// openStore opens a DIY backend URL: file:// (a directory) or s3://bucket[/prefix] with the region and
// endpoint query parameters the CLI's gocloud.dev s3blob URLs take.
func openStore(ctx context.Context, backend string) (store, error) {
	u, err := url.Parse(backend)
	if err != nil {
		return nil, fmt.Errorf("backend URL %q: %w", backend, err)
	}
	switch u.Scheme {
	case "file":
		dir := u.Path
		if u.Host == "~" || strings.HasPrefix(backend, "file://~") {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, err
			}
			dir = filepath.Join(home, strings.TrimPrefix(strings.TrimPrefix(backend, "file://~"), "/"))
		}
		return fileStore(dir), nil
	case "s3":
		var opts []func(*awsconfig.LoadOptions) error
		if r := u.Query().Get("region"); r != "" {
			opts = append(opts, awsconfig.WithRegion(r))
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, err
		}
		endpoint := u.Query().Get("endpoint")
		client := s3.NewFromConfig(cfg, func(o *s3.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
				o.UsePathStyle = true
			}
		})
		return &s3Store{client: client, bucket: u.Host, prefix: strings.Trim(u.Path, "/")}, nil
	}
	return nil, fmt.Errorf("backend %s: stackctl unlock reads DIY backends (file://, s3://); for Pulumi Cloud "+
		"use pulumi cancel", backend)
}

type fileStore string

func (d fileStore) list(_ context.Context, prefix string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(string(d), filepath.FromSlash(prefix)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var keys []string
	for _, e := range entries {
		if !e.IsDir() {
			keys = append(keys, prefix+e.Name())
		}
	}
	return keys, err
}

func (d fileStore) read(_ context.Context, key string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(key)))
}

func (d fileStore) remove(_ context.Context, key string) error {
	return os.Remove(filepath.Join(string(d), filepath.FromSlash(key)))
}

type s3Store struct {
	client *s3.Client
	bucket string
	prefix string
}

func (s *s3Store) key(k string) string {
	if s.prefix == "" {
		return k
	}
	return s.prefix + "/" + k
}

func (s *s3Store) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.key(prefix))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), s.key(""))
			if !strings.Contains(strings.TrimPrefix(k, prefix), "/") {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

func (s *s3Store) read(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(key))})
	if err != nil {
		return nil, err
	}
	defer func() { _ = out.Body.Close() }()
	var b bytes.Buffer
	_, err = io.Copy(&b, out.Body)
	return b.Bytes(), err
}

func (s *s3Store) remove(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket),
		Key: aws.String(s.key(key))})
	return err
}
