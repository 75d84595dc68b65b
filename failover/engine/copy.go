package engine

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/client"
)

// CopyFrom writes to w the tar archive of path in container id (created,
// running or stopped; paths on its volumes included, owners and modes kept)
// and returns the bytes written. The archive's entries start with path's
// last element ("pgdata/…" for …/pgdata).
func (e *Engine) CopyFrom(ctx context.Context, id, path string, w io.Writer) (int64, error) {
	what := fmt.Sprintf("copy %s out of container %s", path, shortID(id))
	res, err := e.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return 0, e.classify(err, what)
	}
	defer res.Content.Close()
	n, err := io.Copy(w, res.Content)
	if err != nil {
		return n, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

// CopyTo extracts the tar archive r into the directory dir of container id.
// The container may be created and never started: its volumes are mounted
// for the copy, so this fills a new volume before the container first
// runs. The archive's owners (numeric ids) and modes are kept; a directory
// is never replaced by a file nor a file by a directory.
func (e *Engine) CopyTo(ctx context.Context, id, dir string, r io.Reader) error {
	what := fmt.Sprintf("copy into %s of container %s", dir, shortID(id))
	_, err := e.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: dir, Content: r})
	return e.classify(err, what)
}
