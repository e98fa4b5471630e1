package operations

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// AllContainers as a container name sets the image of every container and
// every init container of the pod template, as `kubectl set image` does
// (k8s.io/kubectl's set_image.go applies "*" to both lists). Unlike kubectl,
// whose order over its map of names is random, a container also named
// explicitly gets its own image, whatever the argument order.
const AllContainers = "*"

// ContainerImage is one CONTAINER=IMAGE pair.
type ContainerImage struct {
	Container string `json:"container"`
	Image     string `json:"image"`
}

func (c ContainerImage) String() string { return c.Container + "=" + c.Image }

// ParseImageArgs parses CONTAINER=IMAGE arguments and validates them as
// ValidateImages does, reporting every bad argument at once. On error it
// returns nil pairs.
func ParseImageArgs(args []string) ([]ContainerImage, error) {
	var ps []Problem
	pairs := make([]ContainerImage, 0, len(args))
	for _, arg := range args {
		container, image, ok := strings.Cut(arg, "=")
		if !ok {
			ps = append(ps, Problem{"images", fmt.Sprintf("%q is not CONTAINER=IMAGE: add the container's name, e.g. web=%s, or *=%s for every container", arg, arg, arg)})
			continue
		}
		pairs = append(pairs, ContainerImage{Container: container, Image: image})
	}
	if len(args) == 0 || len(pairs) > 0 {
		ps = append(ps, ValidateImages(pairs)...)
	}
	if len(ps) > 0 {
		return nil, badRequest(ps)
	}
	return pairs, nil
}

// ValidateImages checks pairs without a request: each names a container
// once, and each image is a reference a kubelet can pull.
func ValidateImages(pairs []ContainerImage) []Problem {
	var ps []Problem
	if len(pairs) == 0 {
		return []Problem{{"images", "no CONTAINER=IMAGE given"}}
	}
	seen := map[string]bool{}
	for _, p := range pairs {
		switch {
		case p.Container == "":
			ps = append(ps, Problem{"images", fmt.Sprintf("%q names no container: use CONTAINER=IMAGE, or *=IMAGE for every container", p.String())})
		case seen[p.Container]:
			ps = append(ps, Problem{"images", fmt.Sprintf("container %q is given more than once", p.Container)})
		}
		seen[p.Container] = true
		if err := ValidateImage(p.Image); err != nil {
			ps = append(ps, Problem{"images", fmt.Sprintf("container %q: %v", p.Container, err)})
		}
	}
	return ps
}

// ValidateImage checks that image is a reference a kubelet can pull.
//
// It uses reference.ParseNormalizedNamed, which is what the kubelet itself
// applies to a pod's image before pulling (an image it refuses leaves the
// pod in InvalidImageName). It accepts everything a user writes for
// `kubectl set image`: short names ("nginx", "nginx:1.27"), registries with
// ports, paths, tags and digests. ParseAnyReference would also accept a bare
// 64-hex image ID, which the kubelet cannot pull, so it would let through a
// change whose pods never start. Kubernetes' own API validation accepts any
// non-blank string, so garbage must be stopped here.
func ValidateImage(image string) error {
	if image == "" {
		return fmt.Errorf("empty image: give an image such as nginx:1.27")
	}
	if strings.TrimSpace(image) != image {
		return fmt.Errorf("image %q has leading or trailing spaces", image)
	}
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		return fmt.Errorf("invalid image %q: %w", image, err)
	}
	return nil
}
