// Package observe reads a project's live state from the Docker engine: its
// containers, networks, volumes and image IDs, and the cheap drift check of
// an unchanged commit. It also connects to the engine and refuses ones
// older than MinAPIVersion.
package observe
