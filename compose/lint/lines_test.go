package lint

import (
	"testing"
)

func TestLintLines(t *testing.T) {
	base := `x-app: &app
  logging:
    driver: json-file
services:
  web:
    <<: *app
    image: nginx:latest
    volumes:
      - ./data:/data
      - /var/run/docker.sock:/var/run/docker.sock
  db:
    image: postgres:16
`
	overlay := `services:
  web:
    image: nginx:1.27
    deploy:
      resources:
        limits:
          cpus: "0.5"
  db:
    restart: always
`
	dir := writeStack(t, map[string]string{"compose.yaml": base, "compose.production.yaml": overlay})
	type at struct {
		file string
		line int
	}
	cases := []struct {
		env, rule, service string
		want               at
	}{
		{"", RuleFloatingTag, "web", at{"stacks/shop/compose.yaml", 7}},
		// The overlay sets the image: its line.
		{"production", RuleImageNotDigest, "web", at{"stacks/shop/compose.production.yaml", 3}},
		// A field merged from an anchor: the anchor's line.
		{"", RuleNoLogRotation, "web", at{"stacks/shop/compose.yaml", 2}},
		// An absent field: the service's line in the base.
		{"", RuleNoRestartPolicy, "web", at{"stacks/shop/compose.yaml", 5}},
		{"production", RuleNoMemoryLimit, "db", at{"stacks/shop/compose.yaml", 11}},
		// Part of the path is written in the overlay: its deepest key.
		{"production", RuleNoMemoryLimit, "web", at{"stacks/shop/compose.production.yaml", 6}},
	}
	for _, tc := range cases {
		t.Run(tc.env+" "+tc.rule+" "+tc.service, func(t *testing.T) {
			fs := lintDir(t, dir, tc.env, Policy{})
			for _, f := range withRule(fs, tc.rule) {
				if f.Service == tc.service {
					if got := (at{f.File, f.Line}); got != tc.want {
						t.Fatalf("at %v, want %v: %s", got, tc.want, f)
					}
					return
				}
			}
			t.Fatalf("no %s finding for %s:\n%s", tc.rule, tc.service, dump(fs))
		})
	}
}

// TestLintLocateVolume: findings made outside the package (the host
// policy's) point at the volumes item by its target.
func TestLintLocateVolume(t *testing.T) {
	dir := writeStack(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx:1\n    volumes:\n      - ./data:/data\n      - type: bind\n        source: /srv\n        target: /srv/\n"})
	src, err := ReadSources(dir, "", "stacks/shop")
	if err != nil {
		t.Fatal(err)
	}
	if file, line := src.LocateVolume("web", "/srv"); file != "stacks/shop/compose.yaml" || line != 6 {
		t.Errorf("LocateVolume: %s:%d, want stacks/shop/compose.yaml:6", file, line)
	}
	if file, line := src.Locate("web", "volumes[1].source"); file != "stacks/shop/compose.yaml" || line != 4 {
		t.Errorf("Locate: %s:%d, want the volumes key at stacks/shop/compose.yaml:4", file, line)
	}
}

func TestLintStackFolderPaths(t *testing.T) {
	dir := writeStack(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n"})
	p, _ := loadDir(t, dir, "")
	src, err := ReadSources(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	fs := withRule(Lint(p, src, Policy{}), RuleFloatingTag)
	if len(fs) != 1 || fs[0].File != "compose.yaml" || fs[0].Line != 3 || fs[0].Stack != "shop" {
		t.Fatalf("got %+v", fs)
	}
}
