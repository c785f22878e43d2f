package controller

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
)

// The host resources berth watches.
const (
	ResourceDisk   = "disk"
	ResourceInodes = "inodes"
	ResourceMemory = "memory"
	ResourceLoad   = "load"
)

// PressureReading is one resource's use as a ratio: the share of a
// filesystem's space or inodes in use, of memory not available, or the
// one-minute load average per CPU (which may pass 1). Error says why a
// path could not be read (berth in a container that does not see it).
type PressureReading struct {
	Resource string  `json:"resource"`
	Path     string  `json:"path,omitempty"`
	Ratio    float64 `json:"ratio"`
	Level    string  `json:"level,omitempty"` // ok, warning, critical; "" for load
	Error    string  `json:"error,omitempty"`
}

// fsUsage is what statfs says of a filesystem.
type fsUsage struct {
	Blocks, Free, Avail uint64 // in blocks: all, free, free to unprivileged users
	Files, FilesFree    uint64 // inodes; Files is 0 where a filesystem has no fixed count
}

// pressureSources are where readPressure reads: the paths to statfs, the
// statfs itself, /proc/meminfo and /proc/loadavg, and the CPU count.
type pressureSources struct {
	Paths   []string
	Statfs  func(path string) (fsUsage, error)
	MemInfo func() (io.ReadCloser, error)
	LoadAvg func() (io.ReadCloser, error)
	CPUs    int
}

// readPressure reads every source once. A source that fails gives a
// reading with its error, so status shows what berth cannot see.
func readPressure(src pressureSources) []PressureReading {
	var out []PressureReading
	for _, p := range src.Paths {
		u, err := src.Statfs(p)
		if err != nil {
			out = append(out, PressureReading{Resource: ResourceDisk, Path: p, Error: pathError(err)})
			continue
		}
		if used := u.Blocks - u.Free; used+u.Avail > 0 {
			// As df counts: the blocks kept for root are not free to use.
			out = append(out, PressureReading{Resource: ResourceDisk, Path: p, Ratio: float64(used) / float64(used+u.Avail)})
		}
		if u.Files > 0 {
			out = append(out, PressureReading{Resource: ResourceInodes, Path: p, Ratio: float64(u.Files-u.FilesFree) / float64(u.Files)})
		}
	}
	if src.MemInfo != nil {
		r := PressureReading{Resource: ResourceMemory}
		r.Ratio, r.Error = readWith(src.MemInfo, memoryRatio)
		out = append(out, r)
	}
	if src.LoadAvg != nil && src.CPUs > 0 {
		r := PressureReading{Resource: ResourceLoad}
		r.Ratio, r.Error = readWith(src.LoadAvg, func(rd io.Reader) (float64, error) { return loadRatio(rd, src.CPUs) })
		out = append(out, r)
	}
	return out
}

func pathError(err error) string {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return "not visible to berth (berth in a container without this path mounted?)"
	}
	return err.Error()
}

func readWith(open func() (io.ReadCloser, error), parse func(io.Reader) (float64, error)) (float64, string) {
	rc, err := open()
	if err != nil {
		return 0, err.Error()
	}
	defer rc.Close()
	v, err := parse(rc)
	if err != nil {
		return 0, err.Error()
	}
	return v, ""
}

// memoryRatio is 1 - MemAvailable/MemTotal from /proc/meminfo.
func memoryRatio(r io.Reader) (float64, error) {
	total, avail := 0.0, -1.0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if total <= 0 || avail < 0 || avail > total {
		return 0, errors.New("meminfo: no MemTotal and MemAvailable")
	}
	return 1 - avail/total, nil
}

// loadRatio is the one-minute load average of /proc/loadavg per CPU.
func loadRatio(r io.Reader, cpus int) (float64, error) {
	var one float64
	if _, err := fmt.Fscan(r, &one); err != nil {
		return 0, fmt.Errorf("loadavg: %w", err)
	}
	return one / float64(cpus), nil
}

// statfs is the real filesystem's usage.
func statfs(path string) (fsUsage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsUsage{}, &fs.PathError{Op: "statfs", Path: path, Err: err}
	}
	return fsUsage{Blocks: st.Blocks, Free: st.Bfree, Avail: st.Bavail, Files: st.Files, FilesFree: st.Ffree}, nil
}
