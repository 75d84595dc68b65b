package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/client"
)

// maxImageFile bounds what ReadImageFile reads (a Procfile, not a database).
const maxImageFile = 1 << 20

// ReadImageFile returns the content of a regular file in an image, such as
// its Procfile, without running the image: a container is created (never
// started), the file copied out, the container removed. It returns
// ErrNotFound when the image has no such file.
func (e *Engine) ReadImageFile(ctx context.Context, image, path string) ([]byte, error) {
	what := fmt.Sprintf("read %s from image %s", path, image)
	id, err := e.CreateContainer(ctx, ContainerSpec{Image: image, Entrypoint: []string{"/lifeboat-never-started"},
		Labels: map[string]string{LabelRole: "probe"}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer e.RemoveContainer(context.WithoutCancel(ctx), id, true)
	res, err := e.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, e.classify(err, what)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(io.LimitReader(tr, maxImageFile+1))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			if len(b) > maxImageFile {
				return nil, fmt.Errorf("%s: larger than %d bytes", what, maxImageFile)
			}
			return b, nil
		case tar.TypeSymlink, tar.TypeLink:
			// /bin/sh is usually a link: its presence is what matters.
			return []byte{}, nil
		case tar.TypeDir:
			return nil, fmt.Errorf("%s: is a directory", what)
		}
	}
}

// ImageHasFile reports whether the image holds path (a file or a link).
func (e *Engine) ImageHasFile(ctx context.Context, image, path string) (bool, error) {
	_, err := e.ReadImageFile(ctx, image, path)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// PullImage pulls ref to get its newest version. When the pull fails (no
// registry reachable, an outage) and a local copy exists, it returns the
// local image and the pull's error wrapped in ErrStaleImage, so that the
// caller can go on with it and say so; with neither, ErrImageMissing.
func (e *Engine) PullImage(ctx context.Context, ref string, progress io.Writer) (Image, error) {
	pullErr := e.pull(ctx, ref, progress)
	img, err := e.InspectImage(ctx, ref)
	switch {
	case pullErr == nil && err == nil:
		return img, nil
	case pullErr != nil && err == nil:
		return img, fmt.Errorf("%w: pulling %s failed (%v); using the local copy %s", ErrStaleImage, ref, pullErr, shortID(img.ID))
	case errors.Is(err, ErrNotFound):
		if errors.Is(pullErr, ErrUnreachable) {
			return Image{}, pullErr
		}
		return Image{}, imageMissing(ref, pullErr)
	}
	return Image{}, err
}

// ErrStaleImage is returned by PullImage with a usable local image when the
// pull failed.
var ErrStaleImage = errors.New("could not pull the newest image")
