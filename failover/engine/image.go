package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// Image is a local image as the daemon describes it.
type Image struct {
	ID           string   // sha256:…
	Ref          string   // the reference it was looked up by
	RepoTags     []string // every name:tag pointing at it
	RepoDigests  []string // name@sha256:… for images that came from a registry
	Labels       map[string]string
	Env          []string // the image's default environment
	Cmd          []string
	Entrypoint   []string
	WorkingDir   string
	User         string
	ExposedPorts []string // "5432/tcp"…, sorted
	// Volumes are the image's VOLUME paths, sorted. A container that mounts
	// nothing at one of them gets an anonymous volume there, which carries
	// no labels and is removed only by RemoveContainer(…, true).
	Volumes []string
}

// InspectImage returns the local image ref names. ErrNotFound when the image
// is not in the local store (it never pulls).
func (e *Engine) InspectImage(ctx context.Context, ref string) (Image, error) {
	res, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return Image{}, e.classify(err, fmt.Sprintf("inspect image %q", ref))
	}
	img := Image{
		ID:          res.ID,
		Ref:         ref,
		RepoTags:    res.RepoTags,
		RepoDigests: res.RepoDigests,
	}
	if c := res.Config; c != nil {
		img.Labels = c.Labels
		img.Env = c.Env
		img.Cmd = c.Cmd
		img.Entrypoint = c.Entrypoint
		img.WorkingDir = c.WorkingDir
		img.User = c.User
		for p := range c.ExposedPorts {
			img.ExposedPorts = append(img.ExposedPorts, p)
		}
		sort.Strings(img.ExposedPorts)
		for v := range c.Volumes {
			img.Volumes = append(img.Volumes, v)
		}
		sort.Strings(img.Volumes)
	}
	return img, nil
}

// EnsureImage returns the local image ref names, pulling it only when it is
// not local. Pull progress goes to progress (may be nil), one line each time
// a layer's status changes ("3f4ca61aafcd: Pull complete"), not one per
// byte-count tick. Credentials are not sent: only public images, or images
// whose registry login the daemon does not need, can be pulled this way.
//
// When the image is not local and the pull fails (no registry reachable —
// the normal state of an AWS outage — no such image, no permission), the
// error wraps ErrImageMissing, names the ref, gives the pull's error and
// says how to get the image onto this machine.
func (e *Engine) EnsureImage(ctx context.Context, ref string, progress io.Writer) (Image, error) {
	img, err := e.InspectImage(ctx, ref)
	if err == nil {
		return img, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Image{}, err
	}
	if err := e.pull(ctx, ref, progress); err != nil {
		if errors.Is(err, ErrUnreachable) || ctx.Err() != nil {
			return Image{}, err
		}
		return Image{}, imageMissing(ref, err)
	}
	return e.InspectImage(ctx, ref)
}

// imageMissing is the ErrImageMissing error for ref: what happened and what
// to do.
func imageMissing(ref string, cause error) error {
	msg := fmt.Sprintf("image %q is not on this machine", ref)
	if cause != nil {
		msg += fmt.Sprintf(" and could not be pulled (%s)", daemonMessage(cause))
	}
	return fmt.Errorf("%w: %s: load it with `docker load -i image.tar` (made with `docker save %s -o image.tar` on a machine that has it), or `docker pull %s` once its registry is reachable",
		ErrImageMissing, msg, ref, ref)
}

// pull pulls ref, writing compact progress to progress.
func (e *Engine) pull(ctx context.Context, ref string, progress io.Writer) error {
	resp, err := e.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			return e.unreachable(err)
		}
		return err
	}
	defer resp.Close()
	last := map[string]string{} // layer id -> last status written
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
		if progress == nil || msg.Status == "" {
			continue
		}
		if last[msg.ID] == msg.Status {
			continue
		}
		last[msg.ID] = msg.Status
		if msg.ID != "" {
			fmt.Fprintf(progress, "%s: %s\n", msg.ID, msg.Status)
		} else {
			fmt.Fprintln(progress, msg.Status)
		}
	}
	return nil
}

// BuildImage builds buildContext (a tar stream holding a Dockerfile at its
// root) with the daemon's classic builder and tags the result tag, adding
// labels. It does not pull base images that are already local; FROM scratch
// needs nothing. A failed build returns the builder's error message and the
// last lines of its output. Intermediate containers are always removed.
func (e *Engine) BuildImage(ctx context.Context, buildContext io.Reader, tag string, labels map[string]string) error {
	what := fmt.Sprintf("build image %q", tag)
	res, err := e.cli.ImageBuild(ctx, buildContext, client.ImageBuildOptions{
		Tags:        []string{tag},
		Labels:      labels,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1, // BuildKit needs a session this package does not run
	})
	if err != nil {
		return e.classify(err, what)
	}
	defer res.Body.Close()

	var tail []string // the last lines of build output, for the error
	dec := json.NewDecoder(res.Body)
	for {
		var msg jsonstream.Message
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", what, ctx.Err())
			}
			return fmt.Errorf("%s: reading build output: %w", what, err)
		}
		if msg.Error != nil {
			return fmt.Errorf("%s: %s%s", what, msg.Error.Message, outputTail(tail))
		}
		for _, line := range strings.Split(strings.TrimRight(msg.Stream, "\n"), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				tail = append(tail, line)
				if len(tail) > 10 {
					tail = tail[1:]
				}
			}
		}
	}
	if _, err := e.InspectImage(ctx, tag); err != nil {
		return fmt.Errorf("%s: the build finished but the image is not there: %w%s", what, err, outputTail(tail))
	}
	return nil
}

func outputTail(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return "\n  build output (last lines):\n    " + strings.Join(lines, "\n    ")
}

// RemoveImage removes the image ref (force: also when containers that are
// stopped use it). Not found is not an error.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := e.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	if err != nil && cerrdefs.IsNotFound(err) {
		return nil
	}
	return e.classify(err, fmt.Sprintf("remove image %q", ref))
}
