// Package compose is the vocabulary of berth's Compose pipeline and its pure
// planner: the desired state of a project, the labels and config hashes
// docker compose uses, the live state as observed, the plan and the planner
// that computes it, the x-berth schema, repo mounts and the Redactor. It
// stays compatible with docker compose: the same labels, the same config
// hashes, the same container names.
//
// The stages live in subpackages, each importing only lower ones: load
// (stack folder to project, with sops), convert (project to Engine API
// calls), observe (the live state), apply (the executor) and compare (one
// commit against another). This package imports none of them.
package compose
