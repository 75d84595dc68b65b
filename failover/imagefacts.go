package failover

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// imageFacts is what Lifeboat reads out of the app image without running
// it: its Procfile and whether it has a shell. Each read is a throwaway
// container (a few hundred milliseconds of a failover's RTO), and an
// image's files never change under its ID, so what was read is kept in
// the app's state directory for that ID and read again only for another
// image. Only what a caller asked for is read: a Procfile the config
// makes unneeded is never looked at.
type imageFacts struct {
	ImageID string `json:"image_id"`
	// Procfile is the image's Procfile ("" none), read when ProcfileRead.
	ProcfileRead bool   `json:"procfile_read"`
	Procfile     string `json:"procfile"`
	ProcfilePath string `json:"procfile_path"`
	// Shell: /bin/sh is in the image, known when ShellRead.
	ShellRead bool `json:"shell_read"`
	Shell     bool `json:"shell"`
}

// loadImageFacts returns what is known of image id (nothing for another image).
func (s *site) loadImageFacts(id string) *imageFacts {
	var f imageFacts
	if err := fsutil.ReadJSON(s.rowsStore().ImageFactsFile(), &f); err != nil || f.ImageID != id {
		return &imageFacts{ImageID: id}
	}
	return &f
}

// saveImageFacts keeps f; failing to is only logged (they are read again).
func (s *site) saveImageFacts(f *imageFacts) {
	path := s.rowsStore().ImageFactsFile()
	err := os.MkdirAll(filepath.Dir(path), 0o700)
	if err == nil {
		err = fsutil.WriteJSONAtomic(path, f, 0o600)
	}
	if err != nil {
		s.Log.Warn("keeping what the app image holds", "err", err)
	}
}

// imageShell reports whether image img has /bin/sh.
func (s *site) imageShell(ctx context.Context, img engine.Image) (bool, error) {
	f := s.loadImageFacts(img.ID)
	if f.ShellRead {
		return f.Shell, nil
	}
	shell, err := s.Engine.ImageHasFile(ctx, img.ID, "/bin/sh")
	if err != nil {
		return false, err
	}
	f.ShellRead, f.Shell = true, shell
	s.saveImageFacts(f)
	return shell, nil
}

// imageProcfile returns the first Procfile found at paths in image img
// and where ("" and "" when there is none).
func (s *site) imageProcfile(ctx context.Context, img engine.Image, paths []string) (string, string, error) {
	f := s.loadImageFacts(img.ID)
	if f.ProcfileRead {
		return f.Procfile, f.ProcfilePath, nil
	}
	f.ProcfileRead = true
	for _, p := range paths {
		b, err := s.Engine.ReadImageFile(ctx, img.ID, p)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", "", err
		}
		f.Procfile, f.ProcfilePath = string(b), p
		break
	}
	s.saveImageFacts(f)
	return f.Procfile, f.ProcfilePath, nil
}
