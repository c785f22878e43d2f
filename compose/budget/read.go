package budget

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular is a path that names something other than a regular file:
// a device such as /dev/zero, a FIFO, a socket or a folder.
var ErrNotRegular = errors.New("is not a regular file")

// ReadFile reads the regular file at path, at most limit bytes of it: a
// file that grows past limit while it is read is refused like one that was
// larger from the start. name is how errors show the file. A missing file
// returns an error that wraps fs.ErrNotExist.
func ReadFile(name, path string, limit int64) ([]byte, error) {
	// Stat first and open without blocking: opening a FIFO for reading
	// would wait for a writer.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %w", name, ErrNotRegular)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("%s cannot be read", name)
	}
	defer f.Close()
	return readOpen(name, f, limit)
}

func readOpen(name string, f *os.File, limit int64) ([]byte, error) {
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s cannot be read", name)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s %w", name, ErrNotRegular)
	case st.Size() > limit:
		return nil, &Error{File: name, Budget: "bytes", Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s cannot be read", name)
	}
	if int64(len(data)) > limit {
		return nil, &Error{File: name, Budget: "bytes", Limit: limit}
	}
	return data, nil
}

// ReadYAML reads the YAML file at path within b and checks it against b.
func ReadYAML(name, path string, b YAML) ([]byte, error) {
	data, err := ReadFile(name, path, b.Bytes)
	if err != nil {
		return nil, err
	}
	if err := Check(name, data, b); err != nil {
		return nil, err
	}
	return data, nil
}
