package gitsource_test

import (
	"testing"

	"github.com/berth-gitops/berth/gitsource"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://github.com/org/repo.git":                  "https://github.com/org/repo.git",
		"https://user:pa55@github.com/org/repo.git":        "https://github.com/org/repo.git",
		"https://ghp_tokenTOKENtoken@github.com/org/r.git": "https://github.com/org/r.git",
		"http://u:p%40ss@host:8080/r.git":                  "http://host:8080/r.git",
		"https://u:bad%zz@host/r.git":                      "https://host/r.git", // unparsable
		"ssh://git@host:2222/r.git":                        "ssh://git@host:2222/r.git",
		"ssh://git:secret@host/r.git":                      "ssh://git@host/r.git",
		"git@github.com:org/repo.git":                      "git@github.com:org/repo.git",
		"git:secret@github.com:org/repo.git":               "git@github.com:org/repo.git",
		"file:///srv/git/r.git":                            "file:///srv/git/r.git",
		"/srv/git/r@1.git":                                 "/srv/git/r@1.git",
	} {
		if got := gitsource.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
