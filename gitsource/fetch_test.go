package gitsource_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

func TestFetchHTTPBasicAuth(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{User: "deploy", Password: "s3cret-pass"})
	w := srv.NewWork("app")
	w.Write("stacks/web/compose.yaml", "services: {}\n")
	first := w.Commit("first")
	w.Push()

	r := open(t, gitsource.Options{URL: srv.URL("app"),
		Auth: gitsource.Auth{Username: "deploy", Password: "s3cret-pass"}})
	if got := head(t, r); got != first {
		t.Fatalf("head %s, want %s", got, first)
	}
	c := fetch(t, r) // nothing new: still a success
	if c.Hash != first || c.Message != "first" || c.Author != "Berth Test" {
		t.Fatalf("commit %+v", c)
	}

	second := w.Commit("second")
	w.Push()
	if c := fetch(t, r); c.Hash != second {
		t.Fatalf("fetch got %s, want %s", c.Hash, second)
	}

	// A token is sent as the password of user "git", unless Username is set.
	tok := gittest.NewServer(t, gittest.ServerOptions{User: "git", Password: "tok-123456"})
	tw := tok.NewWork("app")
	tw.Commit("x")
	tw.Push()
	open(t, gitsource.Options{URL: tok.URL("app"), Auth: gitsource.Auth{Token: "tok-123456"}})
}

func TestFetchAuthErrors(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{User: "deploy", Password: "right-pass"})
	w := srv.NewWork("app")
	w.Commit("first")
	w.Push()

	_, err := gitsource.Open(context.Background(), gitsource.Options{URL: srv.URL("app"),
		Dir: t.TempDir(), Auth: gitsource.Auth{Username: "deploy", Password: "wrong-pass-42"}})
	wantErr(t, err, "authentication failed for "+srv.URL("app"))
	if strings.Contains(err.Error(), "wrong-pass-42") || !errors.Is(err, gitsource.ErrAuth) {
		t.Fatalf("error %q leaks the password or is not ErrAuth", err)
	}

	_, err = gitsource.Open(context.Background(), gitsource.Options{URL: srv.URL("app"), Dir: t.TempDir()})
	wantErr(t, err, "authentication failed", "none are configured")

	// Credentials in the URL are used, and never shown.
	withCreds := strings.Replace(srv.URL("app"), "http://", "http://deploy:url-pass-99@", 1)
	lg, logs := newLogger()
	_, err = gitsource.Open(context.Background(), gitsource.Options{URL: withCreds, Dir: t.TempDir(), Logger: lg})
	wantErr(t, err, "authentication failed for "+srv.URL("app"))
	if strings.Contains(err.Error(), "url-pass-99") || strings.Contains(logs.String(), "url-pass-99") {
		t.Fatalf("password leaked: %q / %q", err, logs)
	}
	good := strings.Replace(srv.URL("app"), "http://", "http://deploy:right-pass@", 1)
	dir := t.TempDir()
	open(t, gitsource.Options{URL: good, Dir: dir})
	cfg := gittest.Git(t, dir, "config", "remote.origin.url")
	if strings.Contains(cfg, "right-pass") {
		t.Fatalf("password written to the clone's config: %s", cfg)
	}
}

func TestFetchRemoteDownThenBack(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	first := w.Commit("first")
	w.Push()
	r := open(t, gitsource.Options{URL: srv.URL("app")})

	srv.Stop()
	_, err := r.Fetch(context.Background())
	wantErr(t, err, "fetch "+srv.URL("app")+": ")
	if got := head(t, r); got != first {
		t.Fatalf("head after a failed fetch %s, want %s", got, first)
	}

	second := w.Commit("second")
	w.Push()
	srv.Start()
	if c := fetch(t, r); c.Hash != second {
		t.Fatalf("after restart got %s, want %s", c.Hash, second)
	}
}

func TestFetchForcePushWarns(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	base := w.Commit("base")
	old := w.Commit("to be dropped")
	w.Push()
	lg, logs := newLogger()
	r := open(t, gitsource.Options{URL: srv.URL("app"), Logger: lg})
	if head(t, r) != old {
		t.Fatal("did not start at the old head")
	}
	next := w.Commit("fast-forward")
	w.Push()
	fetch(t, r)
	if strings.Contains(logs.String(), "WARN") {
		t.Fatalf("fast-forward logged a warning: %s", logs)
	}

	w.ResetHard(base)
	rewritten := w.Commit("rewritten")
	w.ForcePush()
	if c := fetch(t, r); c.Hash != rewritten {
		t.Fatalf("got %s, want the rewritten head %s", c.Hash, rewritten)
	}
	out := logs.String()
	for _, want := range []string{"level=WARN", "ref=refs/heads/main", "from=" + next, "to=" + rewritten} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestPins(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	v1 := w.Commit("v1")
	w.TagAnnotated("v1", "release 1")
	w.Tag("light")
	w.Run("checkout", "-q", "-b", "release")
	onRelease := w.Commit("on release")
	w.Push()
	w.Run("checkout", "-q", "main")
	w.Commit("later")
	w.Push()

	t.Run("annotated tag", func(t *testing.T) {
		r := open(t, gitsource.Options{URL: srv.URL("app"), Tag: "v1"})
		if head(t, r) != v1 {
			t.Fatal("tag v1 did not resolve to its commit")
		}
	})
	t.Run("lightweight tag", func(t *testing.T) {
		r := open(t, gitsource.Options{URL: srv.URL("app"), Tag: "light"})
		if head(t, r) != v1 {
			t.Fatal("tag light did not resolve to its commit")
		}
	})
	t.Run("branch", func(t *testing.T) {
		r := open(t, gitsource.Options{URL: srv.URL("app"), Branch: "release"})
		if head(t, r) != onRelease {
			t.Fatal("branch release")
		}
	})
	t.Run("commit on another branch", func(t *testing.T) {
		r := open(t, gitsource.Options{URL: srv.URL("app"), Commit: onRelease[:10]})
		if head(t, r) != onRelease {
			t.Fatal("pinned commit")
		}
		// A pinned commit that is here needs no network.
		before := srv.Requests()
		if c := fetch(t, r); c.Hash != onRelease || srv.Requests() != before {
			t.Fatalf("pin refetched: %s, %d requests", c.Hash, srv.Requests()-before)
		}
	})
	t.Run("moved tag", func(t *testing.T) {
		r := open(t, gitsource.Options{URL: srv.URL("app"), Tag: "v1"})
		moved := w.Commit("v1 again")
		w.TagAnnotated("v1", "release 1, again")
		w.ForcePush()
		if c := fetch(t, r); c.Hash != moved {
			t.Fatalf("tag moved to %s, fetched %s", moved, c.Hash)
		}
	})
	t.Run("missing", func(t *testing.T) {
		for _, o := range []gitsource.Options{{Tag: "nope"}, {Branch: "nope"}, {Commit: strings.Repeat("ab", 20)}} {
			o.URL, o.Dir = srv.URL("app"), t.TempDir()
			_, err := gitsource.Open(context.Background(), o)
			if !errors.Is(err, gitsource.ErrRefNotFound) {
				t.Fatalf("%+v: want ErrRefNotFound, got %v", o, err)
			}
		}
	})
}

func TestShallow(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	for _, m := range []string{"a", "b", "c"} {
		w.Write("f", m)
		w.Commit(m)
	}
	w.Push()
	dir := filepath.Join(t.TempDir(), "clone")
	r := open(t, gitsource.Options{URL: srv.URL("app"), Dir: dir, Depth: 1})
	if n := gittest.Git(t, dir, "rev-list", "--count", "HEAD"); n != "1" {
		t.Fatalf("depth 1 clone holds %s commits", n)
	}
	w.Write("f", "d")
	d := w.Commit("d")
	w.Push()
	if c := fetch(t, r); c.Hash != d {
		t.Fatalf("shallow fetch got %s, want %s", c.Hash, d)
	}
	if b, err := r.ReadFile(d, "f"); err != nil || string(b) != "d" {
		t.Fatalf("ReadFile %q %v", b, err)
	}
}

func TestOpenReusesDir(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	first := w.Commit("first")
	w.Push()
	dir := filepath.Join(t.TempDir(), "clone")
	open(t, gitsource.Options{URL: srv.URL("app"), Dir: dir})

	// With the remote down a second Open still works from what is on disk.
	srv.Stop()
	r, err := gitsource.Open(context.Background(), gitsource.Options{URL: srv.URL("app"), Dir: dir})
	wantErr(t, err, "fetch "+srv.URL("app"))
	if r == nil || head(t, r) != first {
		t.Fatal("Open on an existing clone did not serve its head while the remote is down")
	}

	// Another remote in the same Dir: cleared and cloned again.
	srv.Start()
	other := srv.NewWork("other")
	otherHead := other.Commit("other")
	other.Push()
	r = open(t, gitsource.Options{URL: srv.URL("other"), Dir: dir})
	if head(t, r) != otherHead {
		t.Fatal("Dir was not re-cloned for the new URL")
	}
	if _, err := r.Commit(first); err == nil {
		t.Fatal("objects of the old remote survived the re-clone")
	}

	// A directory that is not ours is never cleared.
	notOurs := t.TempDir()
	if err := os.WriteFile(filepath.Join(notOurs, "keep"), []byte("me"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = gitsource.Open(context.Background(), gitsource.Options{URL: srv.URL("app"), Dir: notOurs})
	wantErr(t, err, "refusing to clear")
}

func TestFileAndLocalPath(t *testing.T) {
	t.Parallel()
	w := gittest.NewRepo(t)
	c := w.Commit("first")
	w.Push()
	for _, u := range []string{w.Remote, "file://" + w.Remote} {
		r := open(t, gitsource.Options{URL: u})
		if head(t, r) != c {
			t.Fatalf("%s: wrong head", u)
		}
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	w := gittest.NewRepo(t)
	w.Commit("first")
	r, err := gitsource.OpenLocal(w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetch(context.Background()); !errors.Is(err, gitsource.ErrReadOnly) {
		t.Fatalf("Fetch on OpenLocal: %v", err)
	}
}

func TestOpenSwitchesRefInPlace(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	w.Commit("main")
	w.Push()
	w.Run("checkout", "-q", "-b", "release")
	rel := w.Commit("release")
	w.Push()
	dir := filepath.Join(t.TempDir(), "clone")
	open(t, gitsource.Options{URL: srv.URL("app"), Dir: dir})

	lg, logs := newLogger()
	r := open(t, gitsource.Options{URL: srv.URL("app"), Dir: dir, Branch: "release", Logger: lg})
	if head(t, r) != rel || strings.Contains(logs.String(), "WARN") || strings.Contains(logs.String(), "re-cloning") {
		t.Fatalf("switching branch: head %s, logs:\n%s", head(t, r), logs)
	}
}

func TestOpenWithRemoteDown(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	c := w.Commit("first")
	w.Push()
	srv.Stop()
	r, err := gitsource.Open(context.Background(), gitsource.Options{URL: srv.URL("app"), Dir: t.TempDir()})
	wantErr(t, err, "connection refused")
	if _, err := r.Head(); err == nil {
		t.Fatal("Head of a clone that never fetched")
	}
	srv.Start()
	if got := fetch(t, r); got.Hash != c {
		t.Fatal("retrying Fetch on the Repo Open returned did not work")
	}
}
