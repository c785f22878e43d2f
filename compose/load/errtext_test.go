package load

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose"
)

// errCanary is planted in every input a load reads; no load error may show it.
const errCanary = "canary-9d4e2b71"

func TestLoadErrorsShowNoContent(t *testing.T) {
	svc := "services:\n  web:\n    image: example/web:1.0\n"
	sops := func(fixture string) string {
		b, err := os.ReadFile(filepath.Join(sopsFixtures, fixture))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		osEnv bool
		want  []string // what the error must still say
	}{
		// The compose file.
		{"yaml size", map[string]string{"compose.yaml": svc + "    mem_limit: " + errCanary + "\n"}, false,
			[]string{"services[web].mem_limit"}},
		{"yaml tag", map[string]string{"compose.yaml": svc + "    scale: !!int " + errCanary + "\n"}, false,
			[]string{"compose.yaml", "as a !!int"}},
		{"yaml port", map[string]string{"compose.yaml": svc + "    ports: [\"" + errCanary + "\"]\n"}, false,
			[]string{"invalid containerPort"}},
		{"yaml duration", map[string]string{"compose.yaml": svc + "    healthcheck: {interval: " + errCanary + "}\n"}, false,
			[]string{"services[web].healthcheck.interval"}},
		{"yaml cast", map[string]string{"compose.yaml": svc + "    deploy: {replicas: " + errCanary + "}\n"}, false,
			[]string{"services.web.deploy.replicas"}},
		{"yaml document", map[string]string{"compose.yaml": errCanary + "\n"}, false,
			[]string{"line 1", "cannot unmarshal"}},
		{"yaml interpolation", map[string]string{"compose.yaml": svc + "    environment: {A: \"${" + errCanary + "\"}\n"}, false,
			[]string{"invalid interpolation format for services.web.environment.A"}},
		// An env_file line.
		{"env_file line", map[string]string{"compose.yaml": svc + "    env_file: [app.env]\n", "app.env": "A=1\nA@B=" + errCanary + "\n"}, false,
			[]string{"app.env: line 2", "unexpected character", "variable name"}},
		{"env_file quote", map[string]string{"compose.yaml": svc + "    env_file: [app.env]\n", "app.env": "A=1\nB='" + errCanary + "\n"}, false,
			[]string{"app.env: line 3", "unterminated quoted value"}},
		{"dotenv line", map[string]string{"compose.yaml": svc, ".env": "A=\"" + errCanary + "\n"}, false,
			[]string{".env: line 2", "unterminated quoted value"}},
		{"dotenv value interpolated", map[string]string{"compose.yaml": svc + "    ports: [\"${PORT}\"]\n", ".env": "PORT=" + errCanary + "\n"}, false,
			[]string{"invalid containerPort"}},
		// An env template.
		{"template action", map[string]string{"compose.yaml": svc, ".env.tmpl": "A=1\nB={{ ." + strings.ReplaceAll(errCanary, "-", "") + " }}\n"}, false,
			[]string{".env.tmpl, line 2"}},
		{"template string", map[string]string{"compose.yaml": svc, ".env.tmpl": "A={{ index \"" + errCanary + "\" 99 }}\n"}, false,
			[]string{".env.tmpl, line 1"}},
		{"template function", map[string]string{"compose.yaml": svc, ".env.tmpl": "A={{ \"" + errCanary + "\" | printf \"%d\" | len | nosuch }}\n"}, false,
			[]string{".env.tmpl, line 1"}},
		{"template rendered", map[string]string{"compose.yaml": svc, ".env.tmpl": "A=1\n" + errCanary + " line\n"}, false,
			[]string{".env.tmpl", "line 2"}},
		// A sops file.
		{"sops yaml", map[string]string{"compose.yaml": svc + "    secrets: [s]\nsecrets:\n  s:\n    file: s.sops.yaml\n",
			"s.sops.yaml": "a: " + errCanary + "\nb: [\n"}, false, []string{"s.sops.yaml", "line"}},
		{"sops time", map[string]string{"compose.yaml": svc + "    secrets: [s]\nsecrets:\n  s:\n    file: config.sops.yaml\n",
			"config.sops.yaml": strings.Replace(sops("config.sops.yaml"), "lastmodified: \"", "lastmodified: \""+errCanary, 1)}, false,
			[]string{"config.sops.yaml", "lastmodified"}},
		{"sops dotenv", map[string]string{"compose.yaml": svc, ".sops.env": errCanary + " line\nsops_version=3.9.0\n"}, false,
			[]string{".sops.env", "line 1"}},
		// A host secret, through a template, into a field that refuses it.
		{"host secret", map[string]string{"compose.yaml": svc + "    ports: [\"${PW}\"]\n", ".env.tmpl": "PW={{ secret \"pw\" }}\n"}, false,
			[]string{"invalid containerPort"}},
		// The process environment.
		{"process env port", map[string]string{"compose.yaml": svc + "    ports: [\"${BERTH_TEST_CANARY}\"]\n"}, true,
			[]string{"invalid containerPort"}},
		{"process env cast", map[string]string{"compose.yaml": svc + "    cpus: ${BERTH_TEST_CANARY}\n"}, true,
			[]string{"services.web.cpus"}},
		{"process env duration", map[string]string{"compose.yaml": svc + "    stop_grace_period: ${BERTH_TEST_CANARY}\n"}, true,
			[]string{"stop_grace_period"}},
		{"process env in an env_file path", map[string]string{"compose.yaml": svc + "    env_file: [\"/x/${BERTH_TEST_CANARY}\"]\n"}, true,
			[]string{`service "web": env_file`, "is outside the stack folder"}},
		{"process env in an extends path", map[string]string{"compose.yaml": svc + "    extends: {file: \"/x/${BERTH_TEST_CANARY}\", service: a}\n"}, true,
			[]string{`compose.yaml: service "web": extends.file`, "is outside the stack folder"}},
		{"process env in an include path", map[string]string{"compose.yaml": "include: [\"/x/${BERTH_TEST_CANARY}\"]\n" + svc}, true,
			[]string{`compose.yaml: include`, "is outside the stack folder"}},
		{"process env required", map[string]string{"compose.yaml": "services:\n  web:\n    image: \"${NOT_SET:?${BERTH_TEST_CANARY}}\"\n"}, true,
			[]string{"NOT_SET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("BERTH_TEST_CANARY", errCanary)
			s := newSecretStack(t, tc.files, map[string]string{"pw": errCanary + "\n"})
			s.o.OSEnv = tc.osEnv
			_, err := Load(context.Background(), s.o)
			if err == nil {
				t.Fatal("the stack loads")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, errCanary) || strings.Contains(msg, errCanary[:10]) || strings.Contains(msg, strings.ReplaceAll(errCanary, "-", "")) {
				t.Errorf("the error shows the content: %s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the error does not say %q: %s", w, msg)
				}
			}
		})
	}
}

func TestLoadErrorsKeepNames(t *testing.T) {
	for in, want := range map[string]string{
		`service "web" refers to undefined network "back": invalid compose project`:                                "",
		`'services[web].mem_limit' invalid size: '12x'`:                                                            `'services[web].mem_limit' invalid size: ***`,
		`services.web additional properties 'netwrks' not allowed`:                                                 "",
		`line 4: mapping key "image" already defined at line 3`:                                                    "",
		`secret "db" is not in /srv/secrets`:                                                                       "",
		`env template app.env.tmpl, line 2: can't evaluate field X in type "s3cr3t"`:                               `env template app.env.tmpl, line 2: can't evaluate field X in type "***"`,
		`/srv/stacks/shop/app.env: line 3: unexpected character "@" in variable name "A@B=pw"`:                     `app.env: line 3: unexpected character "***" in variable name "***"`,
		"yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `pw` into cli.named":                            "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str *** into cli.named",
		"invalid interpolation format for services.web.image.\nYou may need to escape any $ with another $.\n${pw": "invalid interpolation format for services.web.image.\nYou may need to escape any $ with another $.",
	} {
		if want == "" {
			want = in
		}
		if got := scrubText(in, "/srv/stacks/shop"); got != want {
			t.Errorf("scrubText(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestRedactKeepsFileNamesButNotValues(t *testing.T) {
	r := &renderer{red: &compose.Redactor{}}
	r.remember("prod")
	r.remember("s3cret compose.prod.yaml")
	got := r.redactText("compose.prod.yaml: line 3: s3cret compose.prod.yaml is not a prod port", []string{"compose.prod.yaml"})
	if want := "compose.prod.yaml: line 3: ******** is not a ******** port"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
