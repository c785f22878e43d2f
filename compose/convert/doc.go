// Package convert turns a loaded Compose project into Docker Engine API
// calls: container, network and volume create options with docker
// compose's labels. It also says which compose fields berth supports and
// which engine versions a project needs.
package convert
