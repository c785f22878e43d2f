package controller

// Everything berth writes about a stack (its status, its history, the
// notifications and commit statuses, the log) passes the stack's Redactor,
// which knows every value the stack's loads read: an engine or a gate may
// quote an environment variable, a template a secret. The stack applies
// it where those texts leave (update, record, notify and its logger), so
// a new code path cannot forget it.

// public is an error's text as berth may show it: no value, and the data
// dir's paths as the repo's.
func (s *stack) public(err error) string {
	if err == nil {
		return ""
	}
	return s.red.String(s.relative(err.Error()))
}
