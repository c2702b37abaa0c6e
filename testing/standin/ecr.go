package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"appstack/internal/offline"
	"appstack/testing/standin/jsonfile"
)

// The registry the stand-ins share: the aws stand-in creates and deletes repositories and answers
// aws:ecr/getImages, the docker stand-in pushes. Both processes keep it in one file under
// $APPSTACK_STANDIN_STATE, a directory the test controls, so that it outlives each `pulumi up` as a real
// registry does. Without that variable the stand-ins keep no registry and push nothing.

const (
	dockerImage = "docker:index/image:Image"
	repository  = "aws:ecr/repository:Repository"
	getImages   = "aws:ecr/getImages:getImages"
)

// withRegistry runs f on the registry file under an exclusive lock and saves what f changed.
func withRegistry(f func(*offline.Registry) error) error {
	dir := os.Getenv("APPSTACK_STANDIN_STATE")
	if dir == "" {
		return f(&offline.Registry{})
	}
	reg := &offline.Registry{}
	return jsonfile.Update(filepath.Join(dir, "ecr.json"), filepath.Join(dir, "ecr.lock"), "registry state", reg,
		func() error { return f(reg) })
}

func strProp(m resource.PropertyMap, k string) string {
	v := m[resource.PropertyKey(k)]
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// checkImage adds build.contextDigest the way pulumi-docker v4.10.0's Check does (provider/provider.go
// hashContext): the Dockerfile under the name "Dockerfile", then every file of the context with its relative
// path, its full mode string and a hash of its bytes. A checkout with another umask changes it.
func checkImage(inputs resource.PropertyMap) error {
	build := inputs["build"]
	if !build.IsObject() {
		return nil
	}
	b := build.ObjectValue()
	ctxDir, dockerfile := strProp(b, "context"), strProp(b, "dockerfile")
	if ctxDir == "" || dockerfile == "" {
		return nil
	}
	digest, err := contextDigest(ctxDir, dockerfile)
	if err != nil {
		return err
	}
	b["contextDigest"] = resource.NewStringProperty(digest)
	return nil
}

func contextDigest(ctxDir, dockerfile string) (string, error) {
	var acc bytes.Buffer
	add := func(file, rel string, mode fs.FileMode) error {
		h := sha256.New()
		if mode.IsRegular() || rel == "Dockerfile" && mode == 0 {
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("could not open file %s: %w", file, err)
			}
			_, err = io.Copy(h, f)
			_ = f.Close() // read-only
			if err != nil {
				return err
			}
		}
		acc.WriteString(path.Clean(filepath.ToSlash(rel)))
		acc.WriteString(mode.String())
		acc.Write(h.Sum(nil))
		acc.WriteByte(0)
		return nil
	}
	if err := add(dockerfile, "Dockerfile", 0); err != nil {
		return "", fmt.Errorf("error hashing dockerfile %q: %w", dockerfile, err)
	}
	err := filepath.WalkDir(ctxDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(ctxDir, p)
		if err != nil {
			return err
		}
		return add(p, rel, info.Mode())
	})
	if err != nil {
		return "", fmt.Errorf("unable to hash build context: %w", err)
	}
	sum := sha256.Sum256(acc.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

// diffImage answers like pulumi-docker v4.10.0's Diff: any change of the inputs except the registry's
// username and password is an update (never a replacement), and Update builds and pushes again.
func diffImage(olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	var diffs []string
	for _, k := range keys(olds, news) {
		o, n := olds[k], news[k]
		if k == "registry" && o.IsObject() && n.IsObject() {
			o = o.ObjectValue()["server"]
			n = n.ObjectValue()["server"]
		}
		if !o.DeepEquals(n) {
			diffs = append(diffs, string(k))
		}
	}
	if len(diffs) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: diffs}
}

// buildImage is the docker stand-in's Create and Update. In a preview it returns the inputs only, as
// pulumi-docker does without buildOnPreview, so repoDigest is unknown. Otherwise it "pushes": ECR refuses an
// existing tag of an IMMUTABLE repository, identical content included. With skipPush nothing is pushed and
// repoDigest is a local image id, as pulumi-docker reports it.
func (s *standin) buildImage(inputs resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	out := inputs.Copy()
	if preview {
		return out, nil
	}
	name := strProp(inputs, "imageName")
	if v := inputs["skipPush"]; v.IsBool() && v.BoolValue() {
		out["repoDigest"] = resource.NewStringProperty("sha256:" + hashOf(name, strProp(buildOf(inputs),
			"contextDigest")))
		return out, nil
	}
	repo, tag, err := offline.SplitImageName(name)
	if err != nil {
		return nil, err
	}
	var digest string
	err = withRegistry(func(reg *offline.Registry) error {
		var err error
		digest, err = reg.Push(repo, tag, offline.Account)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("error reading push output: %w", err)
	}
	out["repoDigest"] = resource.NewStringProperty(strings.TrimSuffix(name, ":"+tag) + "@" + digest)
	s.log(Call{Op: "push", Type: dockerImage, Name: name, ID: digest})
	// A test makes the next create fail after its push landed (a lost connection, a killed runner) by
	// creating this file; the state then has no image while the registry has its tag.
	if flag := filepath.Join(os.Getenv("APPSTACK_STANDIN_STATE"), "fail-after-push"); os.Getenv(
		"APPSTACK_STANDIN_STATE") != "" {
		if err := os.Remove(flag); err == nil {
			return nil, fmt.Errorf("the push of %s landed, then the operation failed (stand-in: fail-after-push)",
				name)
		}
	}
	return out, nil
}

func buildOf(inputs resource.PropertyMap) resource.PropertyMap {
	if b := inputs["build"]; b.IsObject() {
		return b.ObjectValue()
	}
	return resource.PropertyMap{}
}

func hashOf(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// createdRepository records a repository the aws stand-in created or updated.
func createdRepository(id string, inputs resource.PropertyMap) error {
	return withRegistry(func(reg *offline.Registry) error {
		reg.CreateRepository(id, strProp(inputs, "imageTagMutability"))
		return nil
	})
}

// deleteRepository deletes a repository the way terraform-provider-aws does (DeleteRepository with Force from
// forceDelete): one that still holds images fails with RepositoryNotEmptyException unless forced.
func deleteRepository(id string, state resource.PropertyMap) error {
	force := state["forceDelete"]
	err := withRegistry(func(reg *offline.Registry) error {
		return reg.DeleteRepository(id, strProp(state, "registryId"), force.IsBool() && force.BoolValue())
	})
	if err != nil {
		return fmt.Errorf("ECR Repository (%s) not empty, consider using force_delete: %w", id, err)
	}
	return nil
}

// listImages answers aws:ecr/getImages from the registry file, as ListImages does.
func listImages(_ context.Context, args resource.PropertyMap) (resource.PropertyMap, error) {
	name := strProp(args, "repositoryName")
	var images []offline.ImageID
	err := withRegistry(func(reg *offline.Registry) error {
		var err error
		images, err = reg.ListImages(name, offline.Account)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading ECR Images: %w", err)
	}
	ids := []any{}
	for _, img := range images {
		ids = append(ids, map[string]any{"imageDigest": img.Digest, "imageTag": img.Tag})
	}
	return resource.NewPropertyMapFromMap(map[string]any{"id": name, "repositoryName": name,
		"registryId": offline.Account, "imageIds": ids}), nil
}
