package gitsource

import "fmt"

// Budgets of what a commit may ask berth to list and write. A repository
// past them is not what berth is for, and bounding them keeps one commit
// from filling the host's disk or memory with exports.
const (
	// MaxDirs bounds the folders Dirs lists: the stacks of a repository.
	MaxDirs = 500
	// MaxTreeEntries bounds the files and folders of one export: a stack
	// folder.
	MaxTreeEntries = 2000
	// MaxExportFile bounds one file an export writes: go-git holds a blob
	// in memory several times over while it is read.
	MaxExportFile = 32 << 20
)

// overBudget is a listing past one of the budgets; it is ErrTooLarge.
func overBudget(what string, limit int) error {
	return fmt.Errorf("more than %d %s: %w", limit, what, ErrTooLarge)
}
