package policy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose/lint"
)

// hostTree is a stand-in for host folders: media (granted), a link in it
// to /etc, a dangling link to /root's files, and berth's data dir.
func hostTree(t *testing.T) (media, data string) {
	t.Helper()
	root := t.TempDir()
	media, data = filepath.Join(root, "srv", "media"), filepath.Join(root, "berth")
	for _, d := range []string{filepath.Join(media, "films"), data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		filepath.Join(media, "etc"):      "/etc",
		filepath.Join(media, "dangling"): "/root/not-there-yet",
		filepath.Join(media, "up"):       "..",
		filepath.Join(root, "alias"):     media,
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	return media, data
}

func TestPolicyHostPaths(t *testing.T) {
	media, data := hostTree(t)
	alias := filepath.Join(filepath.Dir(filepath.Dir(media)), "alias")
	granted := Settings{HostPaths: []HostPath{
		{Path: media, Stacks: []string{"sh*"}, ReadOnly: true},
		{Path: "/srv/other", Stacks: []string{"media"}},
	}}
	cases := []struct {
		name, volumes, rule string // rule "" means allowed
	}{
		{"granted read-only", `["` + media + `/films:/films:ro"]`, ""},
		{"granted, long syntax", "\n      - type: bind\n        source: " + media + "\n        target: /m\n        read_only: true", ""},
		{"granted read-only, mounted read-write", `["` + media + `:/m"]`, RuleHostPath},
		{"granted through a link", `["` + alias + `/films:/films:ro"]`, ""},
		{"a link in a granted folder to /etc", `["` + media + `/etc:/e:ro"]`, RuleHostSystemMount},
		{"a file under that link", `["` + media + `/etc/passwd:/p:ro"]`, RuleHostSystemMount},
		{"a dangling link in a granted folder", `["` + media + `/dangling:/d:ro"]`, RuleHostSystemMount},
		{"a link in a granted folder to above it", `["` + media + `/up:/u:ro"]`, RuleHostPath},
		{"granted to another stack", `["/srv/other:/o"]`, RuleHostPath},
		{"berth's data dir", `["` + data + `/berth.db:/db"]`, RuleHostSystemMount},
		{"a folder holding berth's data dir", `["` + filepath.Dir(data) + `:/all:ro"]`, RuleHostSystemMount},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := stackDir(t, "services:\n  app:\n    image: example/app:1\n    volumes: "+tc.volumes+"\n")
			fs := check(t, granted, dir, data)
			switch {
			case tc.rule == "" && len(fs) > 0:
				t.Fatalf("want it allowed, got:\n%s", dump(fs))
			case tc.rule != "" && (len(fs) != 1 || fs[0].Rule != tc.rule || fs[0].Field != "volumes[0].source"):
				t.Fatalf("want one %s refusal, got:\n%s", tc.rule, dump(fs))
			}
		})
	}
	if got := granted.HostPathsFor("shop"); len(got) != 1 || got[0] != media {
		t.Errorf("HostPathsFor(shop) = %v, want [%s]", got, media)
	}
}

// TestPolicyStackLinkToHost: a symlink committed in the stack folder that
// points at a host folder is the host folder.
func TestPolicyStackLinkToHost(t *testing.T) {
	dir := stackDir(t, "services:\n  app:\n    image: example/app:1\n    volumes: [\"./conf:/conf:ro\", \"./host:/host\"]\n")
	if err := os.Symlink("/var/lib/docker", filepath.Join(dir, "host")); err != nil {
		t.Fatal(err)
	}
	// The stack folder lives in berth's data dir, as on a host: its own
	// files are still the stack's.
	// The loader lets the link through only where the host granted its
	// target; the policy refuses the engine's state even then.
	p, target := loadProject(t, dir, "/var/lib/docker")
	target.Refused = []string{filepath.Dir(dir)}
	fs := Settings{}.Check(p, target)
	if len(fs) != 1 || fs[0].Rule != RuleHostSystemMount || fs[0].Field != "volumes[1].source" || !strings.Contains(fs[0].Message, "(/var/lib/docker)") {
		t.Fatalf("want the link refused as /var/lib/docker, got:\n%s", dump(fs))
	}
}

func TestPolicyStackProfiles(t *testing.T) {
	dir := stackDir(t, "services:\n  app:\n    image: example/app:1\n    pid: host\n    user: \"1000\"\n    security_opt: [\"no-new-privileges:true\"]\n")
	for _, tc := range []struct {
		s    Settings
		want int
	}{
		{Settings{}, 1},
		{Settings{Profile: ProfilePrivileged}, 0},
		{Settings{Stacks: map[string]StackSettings{"shop": {Profile: ProfilePrivileged}}}, 0},
		{Settings{Profile: ProfilePrivileged, Stacks: map[string]StackSettings{"shop": {Profile: ProfileRestricted}}}, 1},
		{Settings{Stacks: map[string]StackSettings{"other": {Profile: ProfilePrivileged}}}, 1},
	} {
		if fs := check(t, tc.s, dir); len(fs) != tc.want {
			t.Errorf("%+v: want %d refusals, got:\n%s", tc.s, tc.want, dump(fs))
		}
	}
}

func TestPolicyExceptions(t *testing.T) {
	dir := stackDir(t, "services:\n  node-exporter:\n    image: example/ne:1\n    pid: host\n    volumes: [\"/var/run/docker.sock:/s:ro\"]\n  app:\n    image: example/app:1\n    pid: host\n")
	s := Settings{Exceptions: []Exception{
		{Rule: RuleHostPID, Stack: "sh*", Service: "node-*", Reason: "reads host processes"},
		{Rule: "docker-socket", Stack: "shop", Service: "node-exporter", Reason: "lists containers"},
		{Rule: lint.RuleFloatingTag, Service: "app", Reason: "a test image"},
	}}
	fs := check(t, s, dir)
	fs = append(fs, lint.Finding{Rule: lint.RuleFloatingTag, Severity: lint.SeverityError, Stack: "shop", Service: "app"})
	fs = s.Except(fs)
	var active []string
	for _, f := range fs {
		if f.Excepted == "" {
			active = append(active, f.Rule+" "+f.Service)
		} else if !strings.HasPrefix(f.Excepted, "host policy: ") {
			t.Errorf("excepted without the host's reason: %+v", f)
		}
	}
	if strings.Join(active, ",") != "host-pid app" || len(fs) != 4 {
		t.Fatalf("want only app's host-pid left, got %v:\n%s", active, dump(fs))
	}
	if lint.HasErrors(fs[:0]) || !lint.HasErrors(fs) {
		t.Error("the unexcepted refusal should fail the gate")
	}
}

func TestPolicySettingsProblems(t *testing.T) {
	isLint := func(id string) bool { return id == lint.RuleSecretLiteral }
	s := Settings{
		Profile: "strict",
		HostPaths: []HostPath{
			{Path: "srv/media", Stacks: []string{"media"}},
			{Path: "/var", Stacks: []string{"*"}},
			{Path: "/srv/x/../y", Stacks: []string{"["}},
			{Path: "/srv/z"},
		},
		Stacks: map[string]StackSettings{"monitoring": {Profile: "root"}},
		Exceptions: []Exception{
			{Rule: "host-pidd", Reason: "x"},
			{Rule: RuleHostPID, Stack: "monitoring"},
			{Rule: lint.RuleSecretLiteral, Service: "[", Reason: "x"},
			{Rule: "docker-socket", Reason: "traefik"},
		},
	}
	var msgs []string
	for _, err := range s.Problems("policy", isLint) {
		msgs = append(msgs, err.Error())
	}
	want := []string{
		`policy.profile: "strict" is not one of baseline, restricted, privileged`,
		`policy.host_paths[0].path: "srv/media" is not an absolute path`,
		`policy.host_paths[1].path: "/var" can never be granted: `,
		`policy.host_paths[2].path: "/srv/x/../y" is not clean (use "/srv/y")`,
		`policy.host_paths[2].stacks[0]: "[" is not a path.Match pattern`,
		`policy.host_paths[3].stacks: empty`,
		`policy.stacks.monitoring.profile: "root" is not one of baseline, restricted, privileged`,
		`policy.exceptions[0].rule: "host-pidd" is not a rule id`,
		`policy.exceptions[1].reason: required`,
		`policy.exceptions[2].service: "[" is not a path.Match pattern`,
	}
	got := strings.Join(msgs, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
	if len(msgs) != len(want) {
		t.Errorf("want %d problems, got %d:\n%s", len(want), len(msgs), got)
	}
	if errs := (Settings{}).Problems("policy", nil); len(errs) != 0 {
		t.Errorf("the zero settings are valid: %v", errs)
	}
}

// TestPolicyNeverShowsValues: a refusal names rule, service and field, but
// a value built from variables (which env templates and sops files can
// fill with host secrets) is not shown, not even as a field name.
func TestPolicyNeverShowsValues(t *testing.T) {
	const canary = "canary-7f3a9c"
	dir := stackDir(t, `services:
  app:
    image: example/app:1
    volumes: ["/${SECRET}:/x", "data:/data"]
    cap_add: ["${SECRET}"]
    devices: ["/dev/${SECRET}:/dev/x"]
    network_mode: "container:${SECRET}"
    sysctls: ["${SECRET}=1"]
volumes:
  data:
    driver_opts: {type: none, o: bind, device: "/home/${SECRET}"}
`)
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("SECRET="+canary+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := check(t, Settings{}, dir)
	var rules []string
	for _, f := range fs {
		rules = append(rules, f.Rule+" "+f.Field)
		if strings.Contains(f.String()+f.Field, canary) {
			t.Errorf("a value shows: %s (field %s)", f, f.Field)
		}
	}
	slices.Sort(rules)
	want := "capabilities cap_add[0],devices devices[0],host-network network_mode,host-path volumes[0].source,host-path volumes[1].source,sysctls sysctls"
	if got := strings.Join(rules, ","); got != want {
		t.Errorf("refusals %s\nwant %s", got, want)
	}
}
