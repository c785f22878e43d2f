package commitstatus

import (
	"context"

	"github.com/berth-gitops/berth/controller/notify"
)

// Context is the status context of a stack on a host: berth/<host>/<stack>.
func Context(host, stack string) string { return "berth/" + host + "/" + stack }

// Sink turns deploy events into commit statuses, so the controller says
// everything once, through notify.Notifier, and gets its queue, retries
// and order (a deploy's pending always lands before its verdict):
//
//	DeployStarted           pending  "deploying on HOST"
//	DeploySucceeded         success  "deployed on HOST"
//	DeployFailed            failure  "deploy failed on HOST: REASON"
//	RolledBack              failure  "rolled back on HOST: REASON"
//	Stalled                 failure  "stalled on HOST: REASON"
//	Recovered, no commit    nothing
//
// The context is Context(e.Host, e.Stack), the target URL e.URL.
func (c *Client) Sink() notify.Sink { return sink{c} }

type sink struct{ c *Client }

var _ notify.Sink = sink{}

func (s sink) Name() string { return "commit status " + s.c.provider + " " + s.c.base.Host }

func (s sink) Send(ctx context.Context, e notify.Event) error {
	st, ok := StatusOf(e)
	if !ok {
		return nil
	}
	return s.c.Post(ctx, st)
}

// StatusOf is the commit status an event sets, if any (see Sink).
func StatusOf(e notify.Event) (Status, bool) {
	var state State
	var what string
	switch e.Kind {
	case notify.DeployStarted:
		state, what = Pending, "deploying"
	case notify.DeploySucceeded:
		state, what = Success, "deployed"
	case notify.DeployFailed:
		state, what = Failure, "deploy failed"
	case notify.RolledBack:
		state, what = Failure, "rolled back"
	case notify.Stalled:
		state, what = Failure, "stalled"
	default:
		return Status{}, false
	}
	if !commitHash.MatchString(e.Commit) {
		return Status{}, false
	}
	desc := what + " on " + e.Host
	if e.Reason != "" && state == Failure {
		desc += ": " + e.Reason
	}
	return Status{Commit: e.Commit, State: state, Context: Context(e.Host, e.Stack), Description: desc, TargetURL: e.URL}, true
}
