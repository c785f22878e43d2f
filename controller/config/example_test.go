package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExample loads the shipped examples/berth.yaml. Its token file does not
// exist here, so the test points it at a temporary one before validating.
func TestExample(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "examples", "berth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Repo != "https://git.example.com/infra/deploy.git" || c.Branch != "main" || c.Path != "stacks" ||
		c.Env != "production" || c.DataDir != "/var/lib/berth" || c.Listen != "127.0.0.1:9300" ||
		c.Poll != "@every 1m" || c.Drift != DriftCorrect || c.Settle.Duration != 10*time.Second ||
		c.Git.TokenFile != "/etc/berth/git-token" {
		t.Fatalf("example = %+v", c)
	}
	if err := c.Validate(); err != nil {
		if msg := err.Error(); !strings.HasPrefix(msg, "git.token_file: ") || strings.Contains(msg, "\n") {
			t.Fatalf("example is invalid beyond its missing token file: %v", err)
		}
	}
	c.Git.TokenFile = filepath.Join(t.TempDir(), "token")
	writeFile(t, c.Git.TokenFile, "token\n")
	if err := c.Validate(); err != nil {
		t.Fatalf("example with a token file: %v", err)
	}
}
