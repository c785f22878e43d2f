// Package failpoint stops berth at a named step of a rollout, for the
// crash and engine-outage tests. It is compiled in only with the build tag
// failpoints: without it Inject is an empty function the compiler inlines
// away, so a release binary carries neither the code nor the variable it
// reads.
//
// With the tag, BERTH_FAILPOINT=STEP:ACTION arms one step:
//
//   - kill: berth sends itself SIGKILL when it reaches STEP, as a crash or
//     an OOM kill would;
//   - pause: berth writes the file BERTH_FAILPOINT_FILE + ".paused" and
//     waits until BERTH_FAILPOINT_FILE exists, so that a test can act
//     (cut the engine off) with berth held at exactly that step.
//
// Each action fires the first time its step is reached, once per process.
// The steps are named where Inject is called; docs/rollouts.md lists them.
package failpoint
