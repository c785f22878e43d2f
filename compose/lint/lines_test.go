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
		// A volume: the item's line.
		{"", RuleDockerSocket, "web", at{"stacks/shop/compose.yaml", 10}},
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
