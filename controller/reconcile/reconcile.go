// Package reconcile is the controller's error vocabulary: what the loop
// does about an error on a stack's way to a commit.
//
//   - Stall: a person must fix the input (a file that does not load, a
//     missing secret, a lint error, a host-policy refusal, a bad x-berth
//     value, an untrusted commit). The stack waits for new files or new host
//     secrets; the live stack stays as it is.
//   - Retry: a fault that may pass (the engine unreachable or refusing, a
//     Git read, export or disk I/O, a pull that failed on the network, a
//     deadline). The stack tries again with capped backoff and never stalls.
//   - RollBack: the new containers failed verification (rollout.Failure).
//
// An error nobody classified is a Retry: stalling on a fault that passes
// would leave a stack behind until someone pushes a commit.
//
// The lower packages keep their own typed errors (load.LoadError,
// gitsource.ErrUntrusted, rollout.Failure, ...); Classify reads them with
// errors.As, and the controller marks its own steps with Stalling and
// Retrying where the step alone says whose fault it is.
package reconcile

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/compose/observe"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/rollout"
)

// Kind is what the loop does about an error.
type Kind int

// The kinds of error; the zero Kind is Retry, so that an error nobody
// classified is retried.
const (
	Retry Kind = iota
	Stall
	RollBack
)

func (k Kind) String() string {
	switch k {
	case Stall:
		return "stall"
	case RollBack:
		return "roll back"
	}
	return "retry"
}

// Error marks an error with what the loop does about it. Reason is a few
// words for the status ("engine unreachable", "export failed").
type Error struct {
	Kind   Kind
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Stalling marks err as the input's fault: a person must fix the files, the
// host secrets or the host policy. A fault that may pass found under it
// (disk I/O, a deadline) still wins: see Classify.
func Stalling(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: Stall, Err: err}
}

// Retrying marks err as a fault that may pass, with a reason for the status.
func Retrying(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: Retry, Reason: reason, Err: err}
}

// Engine marks an error of the container engine: unreachable when berth
// could not talk to it, refusing when it answered with an error. Both are
// retried.
func Engine(err error) error {
	if err == nil {
		return nil
	}
	if observe.Unreachable(err) {
		return Retrying("engine unreachable", err)
	}
	return Retrying("engine refused", err)
}

// Classify says what the loop does about err and why, in a few words. A
// Retrying mark wins (the step that made it knows), then a failed
// verification, then a cause that may pass, then the input's fault.
func Classify(err error) (Kind, string) {
	var marked *Error
	isMarked := errors.As(err, &marked)
	reason, isPassing := passing(err)
	if isMarked && marked.Kind == Retry {
		if marked.Reason != "" {
			reason = marked.Reason
		}
		return Retry, orUnexpected(reason)
	}
	var f *rollout.Failure
	if errors.As(err, &f) {
		return RollBack, "verification failed"
	}
	if isPassing {
		return Retry, reason
	}
	if isMarked {
		return marked.Kind, marked.Reason
	}
	var le *load.LoadError
	var unsafe *gitsource.UnsafeTreeError
	switch {
	case errors.As(err, &le):
		return Stall, ""
	case errors.Is(err, gitsource.ErrUntrusted):
		return Stall, "commit not trusted"
	case errors.As(err, &unsafe):
		return Stall, "unsafe path in the commit"
	}
	return Retry, "unexpected error"
}

func orUnexpected(reason string) string {
	if reason == "" {
		return "unexpected error"
	}
	return reason
}

// passing reports a cause under err that may pass by itself, whoever
// wrapped it: a deadline, the engine unreachable, or a fault of the host's
// disk, memory or network.
func passing(err error) (string, bool) {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timed out", true
	case client.IsErrConnectionFailed(err):
		return "engine unreachable", true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOSPC, syscall.EDQUOT:
			return "disk full", true
		case syscall.EIO, syscall.EROFS, syscall.ENOMEM,
			syscall.EMFILE, syscall.ENFILE, syscall.EAGAIN, syscall.EBUSY, syscall.EINTR:
			return "disk or memory fault", true
		case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ETIMEDOUT,
			syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN:
			return "network fault", true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "network fault", true
	}
	return "", false
}
