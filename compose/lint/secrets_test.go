package lint

import (
	"encoding/json"
	"strings"
	"testing"
)

// canary is a value planted as a secret; it must never appear in a finding.
const canary = "canary-9f4e27b1"

func TestLintSecretLiteral(t *testing.T) {
	ghp := "ghp_" + strings.Repeat("a1B2", 9)
	cases := []struct {
		name  string
		files map[string]string
		field string // of the finding; "" means none expected
		line  int
	}{
		{"env mapping", env("    environment:\n      DB_PASSWORD: " + canary + "\n"), "environment.DB_PASSWORD", 13},
		{"env list", env("    environment:\n      - API_TOKEN=" + canary + "\n"), "environment.API_TOKEN", 13},
		{"label", env("    labels:\n      com.example.private-key: " + canary + "\n"), "labels.com.example.private-key", 13},
		{"aws key shape", env("    environment:\n      UPLOADS: AKIAABCDEFGHIJKLMNOP\n"), "environment.UPLOADS", 13},
		{"github token shape", env("    environment:\n      - GH=" + ghp + "\n"), "environment.GH", 13},
		{"gitlab token shape", env("    labels:\n      ci: glpat-abcdefghij0123456789\n"), "labels.ci", 13},
		{"slack token shape", env("    environment:\n      HOOK: xoxb-1234567890-abcdef\n"), "environment.HOOK", 13},
		{"private key in command", env("    command: [\"-----BEGIN OPENSSH PRIVATE KEY-----\"]\n"), "command[0]", 12},
		{"url credentials", env("    environment:\n      DATABASE_URL: postgres://app:" + canary + "@db/app\n"), "environment.DATABASE_URL", 13},
		{"env_file", map[string]string{"compose.yaml": base() + "    env_file: app.env\n", "app.env": "# app\nSECRET_KEY=" + canary + "\n"}, "SECRET_KEY", 2},
		{"env_file multi-line", map[string]string{"compose.yaml": base() + "    env_file: [{path: app.env}]\n", "app.env": "KEY=\"-----BEGIN RSA PRIVATE KEY-----\nabc\n\"\n"}, "KEY", 1},
		{"dot env", map[string]string{"compose.yaml": base(), ".env": "DB_PASSWORD=" + canary + "\n"}, "DB_PASSWORD", 1},
		{"literal dollar", env("    environment:\n      DB_PASSWORD: $$" + canary + "\n"), "environment.DB_PASSWORD", 13},

		{"interpolated", env("    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n"), "", 0},
		{"interpolated default", env("    environment:\n      DB_PASSWORD: ${DB_PASSWORD:-}\n"), "", 0},
		{"pass-through", env("    environment:\n      - DB_PASSWORD\n"), "", 0},
		{"empty", env("    environment:\n      DB_PASSWORD: \"\"\n"), "", 0},
		{"file pointer", env("    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db\n"), "", 0},
		{"switch", env("    environment:\n      TOKEN_AUTH: \"true\"\n"), "", 0},
		{"url with variable", env("    environment:\n      DATABASE_URL: postgres://app:${DB_PASSWORD}@db/app\n"), "", 0},
		{"plain value", env("    environment:\n      GREETING: hello\n"), "", 0},
		{"env_file interpolated", map[string]string{"compose.yaml": base() + "    env_file: app.env\n", "app.env": "API_KEY=${API_KEY}\nOTHER='x'\n"}, "", 0},
		{"host secret in a template", map[string]string{"compose.yaml": base() + "    env_file: app.env\n", "app.env": "DB_PASSWORD={{ secret \"db_password\" }}\n"}, "", 0},
		{"sops-encrypted value", env("    environment:\n      DB_PASSWORD: ENC[AES256_GCM,data:q2Vn,iv:aXY=,tag:dGFn,type:str]\n"), "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := withRule(lintDir(t, writeStack(t, tc.files), "", Policy{}), RuleSecretLiteral)
			if tc.field == "" {
				if len(fs) > 0 {
					t.Fatalf("want none, got:\n%s", dump(fs))
				}
				return
			}
			if len(fs) != 1 || fs[0].Field != tc.field || fs[0].Line != tc.line || fs[0].Severity != SeverityError {
				t.Fatalf("want one finding on %s at line %d, got:\n%s", tc.field, tc.line, dump(fs))
			}
			assertNoCanary(t, fs, canary, ghp, "AKIAABCDEFGHIJKLMNOP", "glpat-abcdefghij", "xoxb-1234567890", "BEGIN OPENSSH")
		})
	}
}

func assertNoCanary(t *testing.T, fs []Finding, values ...string) {
	t.Helper()
	out, err := json.Marshal(fs)
	if err != nil {
		t.Fatal(err)
	}
	all := string(out)
	for _, f := range fs {
		all += f.String() + f.GitHub()
	}
	for _, v := range values {
		if strings.Contains(all, v) {
			t.Fatalf("a finding shows the secret value %q:\n%s", v, all)
		}
	}
}

// base is a clean service web on lines 2 to 11; the cases append its
// fields from line 12.
func base() string { return "services:\n  web:\n" + clean }

func env(extra string) map[string]string {
	return map[string]string{"compose.yaml": base() + extra}
}

func TestLintSecretInEnvFileUsedByTwoServices(t *testing.T) {
	dir := writeStack(t, map[string]string{
		"compose.yaml": base() + "    env_file: app.env\n  worker:\n" + clean + "    env_file: [app.env]\n",
		"app.env":      "API_TOKEN=" + canary + "\n",
	})
	fs := withRule(lintDir(t, dir, "", Policy{}), RuleSecretLiteral)
	if len(fs) != 2 || fs[0].Service != "web" || fs[1].Service != "worker" || fs[0].File != "stacks/shop/app.env" {
		t.Fatalf("want one finding per service, got:\n%s", dump(fs))
	}
	assertNoCanary(t, fs, canary)
}
