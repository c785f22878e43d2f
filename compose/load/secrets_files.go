package load

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// What a load writes: its env files in a private folder that goes when the
// load ends, and the decrypted files that containers mount, named by their
// content so that a rendering never changes a file a container uses.

// writeEnv writes a rendered env file into the load's private folder.
func (r *renderer) writeEnv(name, text string) (string, error) {
	if r.work == "" {
		var err error
		switch {
		case r.renderDir != "":
			if err = ensureRenderDir(r.renderDir); err == nil {
				r.work, err = os.MkdirTemp(r.renderDir, ".load-*")
			}
		case r.o.Placeholders:
			r.work, err = os.MkdirTemp("", "berth-load-*")
		default:
			err = errors.New("berth renders env templates and sops files only with a render dir (LoadOptions.RenderDir)")
		}
		if err != nil {
			return "", err
		}
	}
	f, err := os.CreateTemp(r.work, name+"-*")
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), renderedEnvMode)
	}
	return f.Name(), err
}

// writeMounted writes a decrypted file as <name>-<digest>; a file of that
// name already holds this content.
func (r *renderer) writeMounted(name string, content []byte) (string, error) {
	if r.renderDir == "" {
		return "", errors.New("berth decrypts sops files only with a render dir (LoadOptions.RenderDir)")
	}
	if err := ensureRenderDir(r.renderDir); err != nil {
		return "", err
	}
	path := filepath.Join(r.renderDir, name+"-"+shortDigest(string(content)))
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() && st.Size() == int64(len(content)) {
		return path, nil
	}
	f, err := os.CreateTemp(r.renderDir, ".tmp-*") // mode 0600 until complete
	if err != nil {
		return "", err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mountedFileMode)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("write a decrypted file into %s: %w", r.renderDir, err)
	}
	return path, nil
}

// tailMentionsSops reads the end of a file, where sops writes its
// metadata, so that a large config file is not read whole on every load.
func tailMentionsSops(path string, size int64) bool {
	const tail = 64 << 10
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, min(size, tail))
	_, err = f.ReadAt(buf, size-int64(len(buf)))
	return err == nil && bytes.Contains(buf, []byte("sops"))
}

func ensureRenderDir(dir string) error {
	if err := os.MkdirAll(dir, renderDirMode); err != nil {
		return err
	}
	return os.Chmod(dir, renderDirMode)
}

// PruneRendered removes from a render dir the decrypted files that none of
// the projects mounts, and what interrupted loads left behind. Call it once
// a deploy settled, with every project whose containers may still mount
// files from dir (the live one): a container whose file is gone cannot
// start again.
func PruneRendered(dir string, keep ...*types.Project) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, p := range keep {
		for _, s := range p.Secrets {
			used[s.File] = true
		}
		for _, c := range p.Configs {
			used[c.File] = true
		}
	}
	var errs []error
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			// A load in progress owns its folder for well under an hour.
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				errs = append(errs, os.RemoveAll(path))
			}
			continue
		}
		if !used[path] {
			errs = append(errs, os.Remove(path))
		}
	}
	return errors.Join(errs...)
}
