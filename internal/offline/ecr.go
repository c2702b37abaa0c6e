package offline

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Registry models ECR's private registry where appstack depends on its answers: repositories with their tag
// mutability and the images they hold. The offline mocks and the stand-in provider both answer from it, the
// way ECR does:
//
//   - a push of a tag that already exists in an IMMUTABLE repository is refused with
//     ImageTagAlreadyExistsException, even when the content is identical
//     (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html; aws/aws-sdk#750);
//   - ListImages (the aws:ecr/getImages data source) lists every (digest, tag) pair of a repository, and fails
//     with RepositoryNotFoundException for a repository that does not exist;
//   - DeleteRepository of a repository that holds images fails with RepositoryNotEmptyException unless forced
//     (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DeleteRepository.html).
//
// A digest names one push: builds are not reproducible, so pushing the same content twice gives two digests.
type Registry struct {
	mu sync.Mutex
	// Repositories are the registry's repositories by name.
	Repositories map[string]*Repository `json:"repositories"`
}

// Repository is one repository's state.
type Repository struct {
	// Mutability is MUTABLE or IMMUTABLE.
	Mutability string `json:"mutability"`
	// Tags maps each tag to the digest (sha256:...) it names.
	Tags map[string]string `json:"tags"`
	// Pushes counts the images ever pushed, so that every push gets its own digest.
	Pushes int `json:"pushes"`
}

// ImageID is one entry of ListImages.
type ImageID struct {
	Digest, Tag string
}

// ErrorCode is the ECR error code an error carries, such as ImageTagAlreadyExistsException.
type ErrorCode string

// ecrError is an error shaped like ECR's: the code, then the message ECR sends.
type ecrError struct {
	code ErrorCode
	msg  string
}

func (e *ecrError) Error() string { return string(e.code) + ": " + e.msg }

// CreateRepository adds an empty repository, or updates the mutability of an existing one (as
// PutImageTagMutability does). An empty mutability is ECR's default, MUTABLE.
func (r *Registry) CreateRepository(name, mutability string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if mutability == "" {
		mutability = "MUTABLE"
	}
	if r.Repositories == nil {
		r.Repositories = map[string]*Repository{}
	}
	if repo, ok := r.Repositories[name]; ok {
		repo.Mutability = mutability
		return
	}
	r.Repositories[name] = &Repository{Mutability: mutability, Tags: map[string]string{}}
}

// DeleteRepository deletes a repository; one that holds images only with force.
func (r *Registry) DeleteRepository(name, registryID string, force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	repo, ok := r.Repositories[name]
	if !ok {
		return nil // the provider treats RepositoryNotFoundException on delete as done
	}
	if len(repo.Tags) > 0 && !force {
		return &ecrError{"RepositoryNotEmptyException", fmt.Sprintf("The repository with name '%s' in registry "+
			"with id '%s' cannot be deleted because it still contains images", name, registryID)}
	}
	delete(r.Repositories, name)
	return nil
}

// Push stores an image under repository:tag and returns its digest, or ECR's refusal.
func (r *Registry) Push(repository, tag, registryID string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	repo, ok := r.Repositories[repository]
	if !ok {
		return "", &ecrError{"RepositoryNotFoundException", fmt.Sprintf("The repository with name '%s' does "+
			"not exist in the registry with id '%s'", repository, registryID)}
	}
	if _, exists := repo.Tags[tag]; exists && repo.Mutability == "IMMUTABLE" {
		// What `docker push` prints for ECR's ImageTagAlreadyExistsException (moby/buildkit#3776).
		return "", &ecrError{"ImageTagAlreadyExistsException", fmt.Sprintf("tag invalid: The image tag '%s' "+
			"already exists in the '%s' repository and cannot be overwritten because the repository is "+
			"immutable.", tag, repository)}
	}
	repo.Pushes++
	digest := "sha256:" + hash(repository, tag, fmt.Sprint(repo.Pushes))
	repo.Tags[tag] = digest
	return digest, nil
}

// ListImages lists a repository's images, sorted by tag.
func (r *Registry) ListImages(repository, registryID string) ([]ImageID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	repo, ok := r.Repositories[repository]
	if !ok {
		return nil, &ecrError{"RepositoryNotFoundException", fmt.Sprintf("The repository with name '%s' does "+
			"not exist in the registry with id '%s'", repository, registryID)}
	}
	var out []ImageID
	for tag, digest := range repo.Tags {
		out = append(out, ImageID{Digest: digest, Tag: tag})
	}
	slices.SortFunc(out, func(a, b ImageID) int { return strings.Compare(a.Tag, b.Tag) })
	return out, nil
}

// Digest returns the digest a tag names, if the repository holds it.
func (r *Registry) Digest(repository, tag string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	repo, ok := r.Repositories[repository]
	if !ok {
		return "", false
	}
	d, ok := repo.Tags[tag]
	return d, ok
}

// SplitImageName splits <host>/<repository>:<tag> into the repository's name and the tag.
func SplitImageName(imageName string) (repository, tag string, err error) {
	slash := strings.Index(imageName, "/")
	colon := strings.LastIndex(imageName, ":")
	if slash < 0 || colon < slash {
		return "", "", fmt.Errorf("image name %q is not <registry>/<repository>:<tag>", imageName)
	}
	return imageName[slash+1 : colon], imageName[colon+1:], nil
}
