package load

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose/budget"
)

// containCanary is what a host file outside the stack folder holds: no
// error may show it.
const containCanary = "canary-host-file-7f3a91"

// hostStack is a stack folder at root/repo/stacks/shop beside a host file
// root/host/secret that holds the canary.
type hostStack struct {
	root, dir, host string
}

func newHostStack(t testing.TB) *hostStack {
	t.Helper()
	root := t.TempDir()
	s := &hostStack{root: root, dir: filepath.Join(root, "repo", "stacks", "shop"), host: filepath.Join(root, "host", "secret")}
	// The first line is not KEY=VALUE, so that a reader quotes it.
	writeFile(t, s.host, containCanary+" x\nDB_PASSWORD="+containCanary+"\n")
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *hostStack) write(t testing.TB, files map[string]string) {
	t.Helper()
	for name, content := range files {
		writeFile(t, filepath.Join(s.dir, name), strings.ReplaceAll(content, "HOST", s.host))
	}
}

func (s *hostStack) load(hostPaths ...string) error {
	_, err := Load(context.Background(), LoadOptions{Dir: s.dir, HostPaths: hostPaths,
		RenderDir: filepath.Join(s.root, "render")})
	return err
}

// refused loads the stack and wants an error holding each of want and
// never the canary.
func (s *hostStack) refused(t *testing.T, want ...string) {
	t.Helper()
	err := s.load()
	if err == nil {
		t.Fatal("the stack loads")
	}
	if !IsLoadError(err) {
		t.Errorf("not a load error: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), containCanary) {
		t.Errorf("error shows the file's content: %v", err)
	}
}

func TestFileReferencesStayInTheStackFolder(t *testing.T) {
	svc := func(extra string) string {
		return "services:\n  api:\n    image: example/api:1.0\n" + extra
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		links map[string]string // name in the stack folder → target
		want  []string
	}{
		{"env_file absolute", map[string]string{"compose.yaml": svc("    env_file: [HOST]\n")}, nil,
			[]string{`service "api": env_file`, "host/secret is outside the stack folder"}},
		{"env_file up the tree", map[string]string{"compose.yaml": svc("    env_file: [../../../host/secret]\n")}, nil,
			[]string{`service "api": env_file`, "is outside the stack folder"}},
		{"env_file through a symlink", map[string]string{"compose.yaml": svc("    env_file: [app.env]\n")},
			map[string]string{"app.env": "HOST"}, []string{`service "api": env_file app.env is outside the stack folder`}},
		{"env_file proc environ", map[string]string{"compose.yaml": svc("    env_file: [/proc/self/environ]\n")}, nil,
			[]string{`service "api": env_file /proc/self/environ is outside the stack folder`}},
		{"env_file dev zero by symlink", map[string]string{"compose.yaml": svc("    env_file: [zero.env]\n")},
			map[string]string{"zero.env": "/dev/zero"}, []string{`env_file zero.env is outside the stack folder`}},
		{"secret file", map[string]string{"compose.yaml": svc("    secrets: [s]\nsecrets:\n  s:\n    file: HOST\n")}, nil,
			[]string{`secret "s": file`, "is outside the stack folder"}},
		{"config file", map[string]string{"compose.yaml": svc("    configs: [c]\nconfigs:\n  c:\n    file: ../../../host/secret\n")}, nil,
			[]string{`config "c": file`, "is outside the stack folder"}},
		{"bind up the tree", map[string]string{"compose.yaml": svc("    volumes: [\"../..:/data:ro\"]\n")}, nil,
			[]string{`compose.yaml: service "api": volumes`, "is outside the stack folder"}},
		{"bind long syntax up the tree", map[string]string{"compose.yaml": svc("    volumes:\n      - {type: bind, source: ../../../host, target: /data}\n")}, nil,
			[]string{`service "api": volumes`, "is outside the stack folder"}},
		{"bind through a symlink", map[string]string{"compose.yaml": svc("    volumes: [\"./conf:/conf\"]\n")},
			map[string]string{"conf": "/etc"}, []string{`service "api": volumes conf is outside the stack folder`}},
		{"volume device up the tree", map[string]string{"compose.yaml": svc("    volumes: [data:/data]\nvolumes:\n  data:\n    driver: local\n    driver_opts: {type: none, o: bind, device: ../../..}\n")}, nil,
			[]string{`compose.yaml: volume "data": driver_opts.device`, "is outside the stack folder"}},
		{"volume device through a symlink", map[string]string{"compose.yaml": svc("    volumes: [data:/data]\nvolumes:\n  data:\n    driver: local\n    driver_opts: {type: none, o: bind, device: ./etc}\n")},
			map[string]string{"etc": "/etc"}, []string{`volume "data": driver_opts.device`, "etc is outside the stack folder"}},
		{"seccomp profile absolute", map[string]string{"compose.yaml": svc("    security_opt: [\"seccomp=HOST\"]\n")}, nil,
			[]string{`service "api": security_opt`, "host/secret is outside the stack folder"}},
		{"seccomp profile device", map[string]string{"compose.yaml": svc("    security_opt: [\"seccomp:/dev/zero\"]\n")}, nil,
			[]string{`service "api": security_opt /dev/zero is outside the stack folder`}},
		{"seccomp profile through a symlink", map[string]string{"compose.yaml": svc("    security_opt: [\"seccomp=sec.json\"]\n")},
			map[string]string{"sec.json": "HOST"}, []string{`service "api": security_opt sec.json is outside the stack folder`}},
		{"label_file absolute", map[string]string{"compose.yaml": svc("    label_file: HOST\n")}, nil,
			[]string{`compose.yaml: service "api": label_file`, "host/secret is outside the stack folder"}},
		{"label_file device", map[string]string{"compose.yaml": svc("    label_file: [./ok.labels, /dev/zero]\n"), "ok.labels": "a=b\n"}, nil,
			[]string{`service "api": label_file /dev/zero is outside the stack folder`}},
		{"label_file through a symlink", map[string]string{"compose.yaml": svc("    label_file: [app.labels]\n")},
			map[string]string{"app.labels": "HOST"}, []string{`service "api": label_file app.labels is outside the stack folder`}},
		{"build context", map[string]string{"compose.yaml": svc("    build: {context: ../../..}\n")}, nil,
			[]string{`service "api": build.context`, "is outside the stack folder"}},
		{"dotenv symlink", map[string]string{"compose.yaml": svc("")},
			map[string]string{".env": "HOST"}, []string{`env file .env is outside the stack folder`}},
		{"dotenv device", map[string]string{"compose.yaml": svc("")},
			map[string]string{".env": "/dev/zero"}, []string{`env file .env is outside the stack folder`}},
		{"env template symlink", map[string]string{"compose.yaml": svc("")},
			map[string]string{".env.tmpl": "HOST"}, []string{`env file .env.tmpl is outside the stack folder`}},
		{"compose file symlink", nil, map[string]string{"compose.yaml": "HOST"},
			[]string{`compose file compose.yaml is outside the stack folder`}},
		{"include", map[string]string{"compose.yaml": svc("include: [../../../host/secret]\n")}, nil,
			[]string{`compose.yaml: include`, "is outside the stack folder"}},
		{"include path list", map[string]string{"compose.yaml": svc("include:\n  - path: [a.yaml, HOST]\n"), "a.yaml": "services: {}\n"}, nil,
			[]string{`compose.yaml: include`, "host/secret is outside the stack folder"}},
		{"include env_file", map[string]string{"compose.yaml": svc("include:\n  - path: a.yaml\n    env_file: HOST\n"), "a.yaml": "services: {}\n"}, nil,
			[]string{`compose.yaml: include.env_file`, "is outside the stack folder"}},
		{"include project_directory", map[string]string{"compose.yaml": svc("include:\n  - path: a.yaml\n    project_directory: ../../..\n"), "a.yaml": "services: {}\n"}, nil,
			[]string{`compose.yaml: include.project_directory`, "is outside the stack folder"}},
		{"include remote", map[string]string{"compose.yaml": svc("include: [\"oci://example.com/stack:1\"]\n")}, nil,
			[]string{`compose.yaml: include oci://example.com/stack:1: remote includes are not supported`}},
		{"nested include", map[string]string{"compose.yaml": svc("include: [sub/a.yaml]\n"), "sub/a.yaml": "include: [../../../../host/secret]\n"}, nil,
			[]string{`sub/a.yaml: include`, "is outside the stack folder"}},
		{"bind in an included file", map[string]string{"compose.yaml": svc("include: [sub/a.yaml]\n"),
			"sub/a.yaml": "services:\n  db:\n    image: example/db:1\n    volumes: [\"../../..:/data\"]\n"}, nil,
			[]string{`sub/a.yaml: service "db": volumes`, "is outside the stack folder"}},
		{"extends", map[string]string{"compose.yaml": svc("    extends: {file: ../../../host/secret, service: x}\n")}, nil,
			[]string{`compose.yaml: service "api": extends.file`, "is outside the stack folder"}},
		{"extends by interpolation", map[string]string{"compose.yaml": svc("    extends: {file: \"${BASE:-../../../host}/secret\", service: x}\n")}, nil,
			[]string{`compose.yaml: service "api": extends.file`, "is outside the stack folder"}},
		{"extends in an included file", map[string]string{"compose.yaml": svc("include: [sub/a.yaml]\n"),
			"sub/a.yaml": "services:\n  db:\n    extends: {file: b.yaml, service: db}\n",
			"sub/b.yaml": "services:\n  db:\n    extends: {file: ../../../../host/secret, service: x}\n"}, nil,
			[]string{`sub/b.yaml: service "db": extends.file`, "is outside the stack folder"}},
		{"extends by merge key", map[string]string{"compose.yaml": "x-base: &base\n  extends: {file: HOST, service: x}\n" + svc("    <<: *base\n")}, nil,
			[]string{`service "api": extends.file`, "is outside the stack folder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newHostStack(t)
			s.write(t, tc.files)
			for name, target := range tc.links {
				if err := os.Symlink(strings.ReplaceAll(target, "HOST", s.host), filepath.Join(s.dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			s.refused(t, tc.want...)
		})
	}
}

func TestFileReferencesMustBeSmallRegularFiles(t *testing.T) {
	svc := "services:\n  api:\n    image: example/api:1.0\n    env_file: [app.env]\n"
	t.Run("fifo", func(t *testing.T) {
		s := newHostStack(t)
		s.write(t, map[string]string{"compose.yaml": svc})
		if err := syscall.Mkfifo(filepath.Join(s.dir, "app.env"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.refused(t, `service "api": env_file app.env is not a regular file`)
	})
	t.Run("device in a granted folder", func(t *testing.T) {
		s := newHostStack(t)
		s.write(t, map[string]string{"compose.yaml": strings.Replace(svc, "app.env", "/dev/zero", 1)})
		err := s.load("/dev")
		if err == nil || !strings.Contains(err.Error(), `service "api": env_file /dev/zero is not a regular file`) {
			t.Errorf("env_file /dev/zero with /dev granted: %v", err)
		}
	})
	t.Run("over-size", func(t *testing.T) {
		s := newHostStack(t)
		s.write(t, map[string]string{"compose.yaml": svc,
			"app.env": "A=" + strings.Repeat("x", MaxStackFileSize) + "\n"})
		s.refused(t, `service "api": env_file app.env is larger than 1 MiB`)
	})
	t.Run("over-size secret", func(t *testing.T) {
		s := newHostStack(t)
		s.write(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: example/api:1.0\n    secrets: [s]\nsecrets:\n  s:\n    file: big\n",
			"big": strings.Repeat("x", MaxMountedFileSize+1)})
		s.refused(t, `secret "s": file big is larger than 1 MiB`)
	})
	t.Run("folder as env_file", func(t *testing.T) {
		s := newHostStack(t)
		s.write(t, map[string]string{"compose.yaml": svc, "app.env/x": ""})
		s.refused(t, `service "api": env_file app.env is not a regular file`)
	})
}

func TestHostPathsGrantFileReferences(t *testing.T) {
	s := newHostStack(t)
	writeFile(t, s.host, "DB_PASSWORD=from-the-host\n")
	s.write(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: example/api:1.0\n" +
		"    env_file: [HOST]\n    secrets: [s]\n    volumes: [\"../../../host:/host:ro\"]\n" +
		"secrets:\n  s:\n    file: HOST\n"})
	if err := s.load(); err == nil {
		t.Fatal("loads without a grant")
	}
	p, err := Load(context.Background(), LoadOptions{Dir: s.dir, HostPaths: []string{filepath.Dir(s.host)}})
	if err != nil {
		t.Fatal(err)
	}
	if env(t, p, "api", "DB_PASSWORD") != "from-the-host" {
		t.Error("the granted env file was not read")
	}
	// A grant of one file is not a grant of its folder.
	if err := s.load(filepath.Join(s.root, "host", "other")); err == nil {
		t.Error("a grant of another path lets the stack read the host file")
	}
}

func TestFileReferencesInsideTheStackFolderLoad(t *testing.T) {
	s := newHostStack(t)
	s.write(t, map[string]string{
		"compose.yaml": "include:\n  - path: sub/a.yaml\n    env_file: sub/a.env\nservices:\n  api:\n    image: example/api:1.0\n" +
			"    env_file: [app.env]\n    volumes: [\"./data:/data\", \"./conf/app.conf:/etc/app.conf:ro\", \"/srv/shared:/shared\"]\n" +
			"    secrets: [s]\n    extends: {file: base.yaml, service: base}\nsecrets:\n  s:\n    file: ./s.txt\n",
		"base.yaml":     "services:\n  base:\n    environment: {FROM_BASE: \"1\"}\n",
		"sub/a.yaml":    "services:\n  db:\n    image: example/db:${DB_TAG}\n    volumes: [\"./db:/var/lib/db\"]\n",
		"sub/a.env":     "DB_TAG=16\n",
		"app.env":       "A=1\n",
		"conf/app.conf": "x\n",
		"s.txt":         "s\n",
	})
	// A symlink that stays inside is fine.
	if err := os.Symlink("app.env", filepath.Join(s.dir, "link.env")); err != nil {
		t.Fatal(err)
	}
	if err := s.load(); err != nil {
		t.Fatal(err)
	}
}

func TestReadSettingsChecksTheComposeFiles(t *testing.T) {
	for _, target := range []string{"HOST", "/dev/zero"} {
		s := newHostStack(t)
		if err := os.Symlink(strings.ReplaceAll(target, "HOST", s.host), filepath.Join(s.dir, "compose.yaml")); err != nil {
			t.Fatal(err)
		}
		_, err := ReadSettings(s.dir, "")
		if err == nil || !strings.Contains(err.Error(), "compose file compose.yaml is outside the stack folder") {
			t.Errorf("ReadSettings with compose.yaml → %s: %v", target, err)
		}
	}
	s := newHostStack(t)
	s.write(t, map[string]string{"compose.yaml": "x-berth:\n  hosts: " + containCanary + "\n"})
	_, err := ReadSettings(s.dir, "")
	if err == nil || strings.Contains(err.Error(), containCanary) || !strings.Contains(err.Error(), "compose.yaml: x-berth") {
		t.Errorf("a bad x-berth: %v", err)
	}
}

func TestScanOfNestedMergesStaysSmall(t *testing.T) {
	// Each level merges the one below nine times: a lookup that followed
	// every merge would take 9^12 steps, and so would compose-go, which the
	// budget of expanded nodes spares.
	var b strings.Builder
	b.WriteString("x-l0: &l0 {a: 1}\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "x-l%d: &l%d\n  <<: [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("services:\n  api:\n    image: example/api:1.0\n    <<: *l12\n")
	s := newHostStack(t)
	s.write(t, map[string]string{"compose.yaml": b.String()})
	g, err := newFileGuard(s.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.scanComposeFiles([]string{filepath.Join(s.dir, "compose.yaml")}, s.dir, nil, nil) }()
	select {
	case err := <-done:
		if !budget.IsError(err) {
			t.Fatalf("scan: %v, want the budget of expanded nodes", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the scan of nested merges did not end within 10 s")
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
