// Package apply is the executor: one engine operation at a time (pull,
// create, start, stop, rename, remove, wait for a dependency) on a project,
// and the removal of a whole project. It decides nothing; package rollout
// does.
package apply
