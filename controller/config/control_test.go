package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestControlSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "berth.yaml")
	writeFile(t, file, "repo: https://git.example.com/infra.git\ndata_dir: data\ncontrol:\n  socket: run/berth.sock\n  group: \""+strconv.Itoa(os.Getegid())+"\"\nallowed_hosts: [berth.example.com]\n")
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.ControlSocket(); got != filepath.Join(dir, "run/berth.sock") {
		t.Errorf("socket = %s, want it beside the file", got)
	}
	if gid, err := c.ControlGID(); err != nil || gid != os.Getegid() {
		t.Errorf("gid = %d, %v", gid, err)
	}
	if !reflect.DeepEqual(c.AllowedHosts, []string{"berth.example.com"}) {
		t.Errorf("allowed_hosts = %q", c.AllowedHosts)
	}

	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f := BindFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--allowed-hosts", "a.example, b.example"}); err != nil {
		t.Fatal(err)
	}
	c, err = f.Resolve(func(k string) string {
		return map[string]string{"BERTH_ALLOWED_HOSTS": "env.example", "BERTH_CONTROL_GROUP": "root"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.AllowedHosts, []string{"a.example", "b.example"}) || c.Control.Group != "root" {
		t.Errorf("allowed_hosts = %q, group %q", c.AllowedHosts, c.Control.Group)
	}

	d := Default()
	if d.ControlSocket() != "/var/lib/berth/berth.sock" {
		t.Errorf("default socket = %s", d.ControlSocket())
	}
	if gid, _ := d.ControlGID(); gid != -1 {
		t.Errorf("no group by default, got %d", gid)
	}
}

func TestControlSettingsValidate(t *testing.T) {
	c := Default()
	c.Repo = "https://git.example.com/infra.git"
	c.Control = Control{Socket: "/" + strings.Repeat("s", 120), Group: "no-such-group-berth"}
	c.AllowedHosts = []string{"https://berth.example.com/", "*.example.com"}
	err := c.Validate()
	for _, want := range []string{
		"control.socket: \"/sss", "a Unix socket's path may be 107",
		`control.group: no group "no-such-group-berth"`,
		`allowed_hosts: "https://berth.example.com/" is not a host name`, `allowed_hosts: "*.example.com"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
