package convert_test

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose/convert"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/compose-spec/compose-go/v2/types"
)

// A field of a service is converted (it reaches the engine's create
// request), ignored on purpose (nothing to create for it), or refused
// (Load fails naming it). serviceFields lists every field of compose-go's
// ServiceConfig in one of the three, so a compose-go upgrade that adds a
// field fails TestServiceFieldsClassified until someone decides what berth
// does with it: a field is never dropped without a word.
type fieldClass string

const (
	converted fieldClass = "converted"
	ignored   fieldClass = "ignored"
	refused   fieldClass = "refused"
)

type fieldRow struct {
	class fieldClass
	why   string // ignored: why nothing is created; converted without a sample: why not
	// sample is YAML under the service (after "image: busybox"; a sample
	// that starts with "image:" replaces it). For converted fields it must
	// change the create request, which then holds want; for ignored fields
	// it must leave the request as it was (unless want names what the loader
	// merged in); refused fields must make Load fail naming the field.
	sample string
	want   string // converted: a fragment of the request's JSON that shows the value
	// top is YAML after the services (secrets:, networks:, …); more are
	// further services; files are written beside compose.yaml.
	top, more string
	files     map[string]string
	profiles  []string
	// schema: a refused field the compose schema refuses before berth does.
	schema bool
	// refusedWhen is a whole service body that Load refuses, naming the
	// field: a converted or ignored field some of whose values berth refuses.
	refusedWhen string
}

// serviceFields is keyed by the YAML name (the Go name in brackets for a
// field without one).
var serviceFields = map[string]fieldRow{
	"name":           {class: converted, why: "the service's key: the container name project-name-number"},
	"[CustomLabels]": {class: converted, why: "set by the loader, merged into labels; no YAML to sample"},
	"annotations":    {class: converted, sample: "annotations: {com.example.note: annot-marker}", want: "annot-marker"},
	"cap_add":        {class: converted, sample: "cap_add: [NET_ADMIN]", want: `"CapAdd":["NET_ADMIN"]`},
	"cap_drop":       {class: converted, sample: "cap_drop: [MKNOD]", want: `"CapDrop":["MKNOD"]`},
	"cgroup":         {class: converted, sample: "cgroup: private", want: `"CgroupnsMode":"private"`},
	"cgroup_parent":  {class: converted, sample: "cgroup_parent: cgp-marker", want: `"CgroupParent":"cgp-marker"`},
	"command":        {class: converted, sample: "command: [echo, cmd-marker]", want: `"Cmd":["echo","cmd-marker"]`},
	"configs": {class: converted, sample: "configs: [{source: app, target: /etc/cfg-marker.conf}]", want: "/etc/cfg-marker.conf",
		top: "configs:\n  app:\n    file: ./app.conf\n", files: map[string]string{"app.conf": "x=1\n"},
		refusedWhen: "image: busybox\n    configs: [app]\nconfigs:\n  app: {content: hello}"},
	"container_name": {class: converted, sample: "container_name: cn-marker", want: `"Name":"cn-marker"`},
	"cpu_period":     {class: converted, sample: "cpu_period: 100001", want: `"CpuPeriod":100001`},
	"cpu_quota":      {class: converted, sample: "cpu_quota: 50001", want: `"CpuQuota":50001`},
	"cpu_rt_period":  {class: converted, sample: "cpu_rt_period: 1000001", want: `"CpuRealtimePeriod":1000001`},
	"cpu_rt_runtime": {class: converted, sample: "cpu_rt_runtime: 950001", want: `"CpuRealtimeRuntime":950001`},
	"cpus":           {class: converted, sample: "cpus: 1.5", want: `"NanoCpus":1500000000`},
	"cpuset":         {class: converted, sample: `cpuset: "0-1"`, want: `"CpusetCpus":"0-1"`},
	"cpu_shares":     {class: converted, sample: "cpu_shares: 513", want: `"CpuShares":513`},
	"deploy": {class: converted, sample: "deploy:\n      resources:\n        limits: {memory: 64m}", want: `"Memory":67108864`,
		refusedWhen: "image: busybox\n    deploy:\n      labels: {a: b}"},
	"device_cgroup_rules": {class: converted, sample: `device_cgroup_rules: ["c 1:3 mr"]`, want: `"DeviceCgroupRules":["c 1:3 mr"]`},
	"devices":             {class: converted, sample: `devices: ["/dev/null:/dev/dev-marker"]`, want: "/dev/dev-marker"},
	"dns":                 {class: converted, sample: "dns: [9.9.9.9]", want: `"Dns":["9.9.9.9"]`},
	"dns_opt":             {class: converted, sample: "dns_opt: [use-vc]", want: `"DnsOptions":["use-vc"]`},
	"dns_search":          {class: converted, sample: "dns_search: [search.example]", want: `"DnsSearch":["search.example"]`},
	"domainname":          {class: converted, sample: "domainname: dn.example", want: `"Domainname":"dn.example"`},
	"entrypoint":          {class: converted, sample: "entrypoint: [/ep-marker]", want: `"Entrypoint":["/ep-marker"]`},
	"environment":         {class: converted, sample: `environment: {ENV_MARKER: "1"}`, want: `"ENV_MARKER=1"`},
	"expose":              {class: converted, sample: `expose: ["7777"]`, want: `"7777/tcp"`},
	"extra_hosts":         {class: converted, sample: `extra_hosts: ["eh.local:10.0.0.5"]`, want: `"ExtraHosts":["eh.local:10.0.0.5"]`},
	"gpus":                {class: converted, sample: "gpus: all", want: `"gpu"`},
	"group_add":           {class: converted, sample: `group_add: ["4242"]`, want: `"GroupAdd":["4242"]`},
	"healthcheck": {class: converted, sample: "healthcheck: {test: [CMD, hc-marker], interval: 7s}", want: "hc-marker",
		refusedWhen: "image: busybox\n    healthcheck: {test: [CMD, x], start_interval: 1s}"},
	"hostname":  {class: converted, sample: "hostname: hn-marker", want: `"Hostname":"hn-marker"`},
	"image":     {class: converted, sample: "image: busybox:1.36", want: `"Image":"busybox:1.36"`},
	"init":      {class: converted, sample: "init: true", want: `"Init":true`},
	"ipc":       {class: converted, sample: "ipc: shareable", want: `"IpcMode":"shareable"`},
	"isolation": {class: converted, sample: "isolation: hyperv", want: `"Isolation":"hyperv"`},
	"labels":    {class: converted, sample: "labels: {lbl-marker: x}", want: `"lbl-marker":"x"`},
	"logging":   {class: converted, sample: "logging: {driver: syslog}", want: `"Type":"syslog"`},
	"mac_address": {class: converted, sample: "mac_address: 02:42:ac:11:00:09", want: "02:42:ac:11:00:09",
		refusedWhen: "image: busybox\n    network_mode: host\n    mac_address: 02:42:ac:11:00:02"},
	"mem_limit":        {class: converted, sample: "mem_limit: 65m", want: `"Memory":68157440`},
	"mem_reservation":  {class: converted, sample: "mem_reservation: 33m", want: `"MemoryReservation":34603008`},
	"mem_swappiness":   {class: converted, sample: "mem_swappiness: 37", want: `"MemorySwappiness":37`},
	"memswap_limit":    {class: converted, sample: "memswap_limit: 129m", want: `"MemorySwap":135266304`},
	"network_mode":     {class: converted, sample: "network_mode: none", want: `"NetworkMode":"none"`},
	"networks":         {class: converted, sample: "networks: [net-marker]", want: "net-marker", top: "networks:\n  net-marker: {}\n"},
	"oom_kill_disable": {class: converted, sample: "oom_kill_disable: true", want: `"OomKillDisable":true`},
	"oom_score_adj":    {class: converted, sample: "oom_score_adj: -417", want: `"OomScoreAdj":-417`},
	"pid":              {class: converted, sample: "pid: host", want: `"PidMode":"host"`},
	"pids_limit":       {class: converted, sample: "pids_limit: 77", want: `"PidsLimit":77`},
	"ports":            {class: converted, sample: `ports: ["18080:80"]`, want: `"HostPort":"18080"`},
	"privileged":       {class: converted, sample: "privileged: true", want: `"Privileged":true`},
	"read_only":        {class: converted, sample: "read_only: true", want: `"ReadonlyRootfs":true`},
	"restart":          {class: converted, sample: "restart: always", want: `"Name":"always"`},
	"runtime":          {class: converted, sample: "runtime: rt-marker", want: `"Runtime":"rt-marker"`},
	"secrets": {class: converted, sample: "secrets: [tok]", want: "/run/secrets/tok",
		top: "secrets:\n  tok:\n    file: ./tok.txt\n", files: map[string]string{"tok.txt": "t\n"},
		refusedWhen: "image: busybox\n    secrets: [tok]\nsecrets:\n  tok: {environment: TOKEN}"},
	"security_opt":      {class: converted, sample: "security_opt: [no-new-privileges:true]", want: "no-new-privileges:true"},
	"shm_size":          {class: converted, sample: "shm_size: 3m", want: `"ShmSize":3145728`},
	"stdin_open":        {class: converted, sample: "stdin_open: true", want: `"OpenStdin":true`},
	"stop_grace_period": {class: converted, sample: "stop_grace_period: 17s", want: `"StopTimeout":17`},
	"stop_signal":       {class: converted, sample: "stop_signal: SIGUSR2", want: `"StopSignal":"SIGUSR2"`},
	"storage_opt":       {class: converted, sample: "storage_opt: {size: 3G}", want: `"StorageOpt":{"size":"3G"}`},
	"sysctls":           {class: converted, sample: `sysctls: {net.core.somaxconn: "1025"}`, want: `"net.core.somaxconn":"1025"`},
	"tmpfs":             {class: converted, sample: "tmpfs: [/tmpfs-marker]", want: "/tmpfs-marker"},
	"tty":               {class: converted, sample: "tty: true", want: `"Tty":true`},
	"ulimits":           {class: converted, sample: "ulimits: {nofile: {soft: 1111, hard: 2222}}", want: `"Hard":2222`},
	"user":              {class: converted, sample: `user: "4321"`, want: `"User":"4321"`},
	"userns_mode":       {class: converted, sample: "userns_mode: host", want: `"UsernsMode":"host"`},
	"uts":               {class: converted, sample: "uts: host", want: `"UTSMode":"host"`},
	"volumes": {class: converted, sample: "volumes: [data:/vol-marker]", want: "/vol-marker", top: "volumes:\n  data: {}\n",
		refusedWhen: "image: busybox\n    volumes: [{type: npipe, source: x, target: /x}]"},
	"volumes_from": {class: converted, sample: "volumes_from: [db]", want: "id-of-db", more: "  db:\n    image: busybox\n"},
	"working_dir":  {class: converted, sample: "working_dir: /wd-marker", want: `"WorkingDir":"/wd-marker"`},

	"attach": {class: ignored, why: "berth runs detached and attaches to no log", sample: "attach: false"},
	"build": {class: ignored, why: "berth never builds; it runs the image", sample: "build: .",
		refusedWhen: "build: ."},
	"depends_on": {class: ignored, why: "an order of creation and a label the rollout adds, nothing in the service's own request",
		sample: "depends_on: [db]", more: "  db:\n    image: busybox\n"},
	"develop":         {class: ignored, why: "compose watch, a development loop", sample: "develop: {watch: [{action: rebuild, path: .}]}"},
	"env_file":        {class: ignored, why: "Load merges it into environment", sample: "env_file: [app.env]", want: `"EF_MARKER=1"`, files: map[string]string{"app.env": "EF_MARKER=1\n"}},
	"extends":         {class: ignored, why: "Load resolves it into the service's own fields", sample: "extends: {service: base}", want: `"EXT_MARKER=1"`, more: "  base:\n    image: busybox\n    environment: {EXT_MARKER: \"1\"}\n"},
	"platform":        {class: ignored, why: "it selects the image when pulled", sample: "platform: linux/amd64"},
	"profiles":        {class: ignored, why: "it selects the service at load time", sample: "profiles: [p-marker]", profiles: []string{"p-marker"}},
	"pull_policy":     {class: ignored, why: "when to pull, not what to create", sample: "pull_policy: missing"},
	"scale":           {class: ignored, why: "how many containers, not what each is", sample: "scale: 2"},
	"#extensions":     {class: ignored, why: "x- keys are for tools; x-berth is read by berth's own settings", sample: "x-marker: {a: 1}"},
	"blkio_config":    {class: refused, sample: "blkio_config: {weight: 300}"},
	"cpu_count":       {class: refused, sample: "cpu_count: 2"},
	"cpu_percent":     {class: refused, sample: "cpu_percent: 50"},
	"credential_spec": {class: refused, sample: "credential_spec: {file: spec.json}"},
	"dockerfile":      {class: refused, schema: true, sample: "dockerfile: Dockerfile"},
	"external_links":  {class: refused, sample: "external_links: [other_db_1:db]"},
	"label_file":      {class: refused, sample: "label_file: labels.txt", files: map[string]string{"labels.txt": "a=b\n"}},
	"links":           {class: refused, sample: "links: [db]", more: "  db:\n    image: busybox\n"},
	"log_driver":      {class: refused, schema: true, sample: "log_driver: syslog"},
	"log_opt":         {class: refused, schema: true, sample: "log_opt: {a: b}"},
	"models":          {class: refused, sample: "models: [m]", top: "models:\n  m: {model: ai/smollm2}\n"},
	"net":             {class: refused, schema: true, sample: "net: host"},
	"post_start":      {class: refused, sample: "post_start: [{command: echo hi}]"},
	"pre_stop":        {class: refused, sample: "pre_stop: [{command: echo hi}]"},
	"provider":        {class: refused, sample: "provider: {type: model}"},
	"use_api_socket":  {class: refused, sample: "use_api_socket: true"},
	"volume_driver": {class: refused, schema: true, sample: "volume_driver: vd-marker",
		why: "compose-go has the field but its schema has not: Load refuses it before CheckSupported"},
}

// serviceFieldKeys are the YAML names of ServiceConfig's fields.
func serviceFieldKeys() []string {
	var keys []string
	st := reflect.TypeFor[types.ServiceConfig]()
	for i := range st.NumField() {
		f := st.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			name = "[" + f.Name + "]"
		}
		keys = append(keys, name)
	}
	return keys
}

func TestServiceFieldsClassified(t *testing.T) {
	keys := serviceFieldKeys()
	for _, k := range keys {
		row, ok := serviceFields[k]
		switch {
		case !ok:
			t.Errorf("ServiceConfig field %q is not classified: add it to serviceFields as converted, ignored (say why) or refused (and refuse it in CheckSupported)", k)
		case row.class == ignored && row.why == "":
			t.Errorf("field %q is ignored without saying why", k)
		case row.class != refused && row.sample == "" && row.why == "":
			t.Errorf("field %q has no sample and no reason for none", k)
		}
	}
	for k := range serviceFields {
		if !slices.Contains(keys, k) {
			t.Errorf("serviceFields lists %q, which ServiceConfig no longer has", k)
		}
	}
}

// fieldProject writes the stack of one field row (the web service's body
// and the row's extras) to dir and loads it.
func fieldProject(t *testing.T, dir, body string, row fieldRow) (*types.Project, error) {
	t.Helper()
	compose := "services:\n  web:\n    " + body + "\n" + row.more + row.top
	all := map[string]string{"compose.yaml": compose}
	maps.Copy(all, row.files)
	for name, content := range all {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return load.Load(context.Background(), load.LoadOptions{Dir: dir, ProjectName: "demo", Profiles: row.profiles})
}

// fieldSpec loads a stack and returns web's create request as JSON.
func fieldSpec(t *testing.T, dir, body string, row fieldRow) string {
	t.Helper()
	p, err := fieldProject(t, dir, body, row)
	if err != nil {
		t.Fatalf("load:\n%s\n%v", body, err)
	}
	spec, err := convert.BuildContainerSpec(p, p.Services["web"], convert.SpecInput{Number: 1, ContainerFor: fakeContainers})
	if err != nil {
		t.Fatalf("BuildContainerSpec: %v", err)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sampleBody(sample string) string {
	if strings.HasPrefix(sample, "image:") {
		return sample
	}
	return "image: busybox\n    " + sample
}

// TestServiceFieldsConverted: a converted field's sample changes the create
// request and the request holds its value; an ignored field's leaves the
// request as it was, but for what the loader merged in.
func TestServiceFieldsConverted(t *testing.T) {
	for _, key := range slices.Sorted(maps.Keys(serviceFields)) {
		row := serviceFields[key]
		if row.class == refused || row.sample == "" {
			continue
		}
		t.Run(key, func(t *testing.T) {
			dir := t.TempDir() // one folder: the labels naming it are the same
			base := fieldSpec(t, dir, "image: busybox", fieldRow{more: row.more, top: row.top, files: row.files, profiles: row.profiles})
			got := fieldSpec(t, dir, sampleBody(row.sample), row)
			switch {
			case row.class == converted && got == base:
				t.Fatalf("%s does not change the create request:\n%s", row.sample, got)
			case row.want != "" && (!strings.Contains(got, row.want) || strings.Contains(base, row.want)):
				t.Fatalf("the create request for %s lacks %s:\n%s", row.sample, row.want, got)
			case row.class == ignored && row.want == "" && got != base:
				t.Fatalf("ignored field %s changes the create request:\n base %s\n got  %s", row.sample, base, got)
			}
		})
	}
}

// TestServiceFieldsRefused: Load refuses every refused field, and the
// refused values of the others, naming the field.
func TestServiceFieldsRefused(t *testing.T) {
	for _, key := range slices.Sorted(maps.Keys(serviceFields)) {
		row := serviceFields[key]
		body, extra := row.refusedWhen, fieldRow{more: row.more, files: row.files}
		if row.class == refused {
			body, extra = sampleBody(row.sample), row
		}
		if body == "" {
			continue
		}
		// CheckSupported names the field (or a part of it); the schema
		// names the key it does not know.
		want := `field "` + key
		if row.schema {
			want = "additional properties '" + key + "' not allowed"
		}
		t.Run(key, func(t *testing.T) {
			_, err := fieldProject(t, t.TempDir(), body, extra)
			if err == nil {
				t.Fatalf("Load accepted:\n%s", body)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("the error does not say %s: %v", want, err)
			}
		})
	}
}

// TestServiceFieldsMatchConvertCheck: the table agrees with convert_check.go:
// its comment's lists of converted and harmless fields, and the fields
// refusals names.
func TestServiceFieldsMatchConvertCheck(t *testing.T) {
	src, err := os.ReadFile("convert_check.go")
	if err != nil {
		t.Fatal(err)
	}
	comment := string(src)
	convertedList := commentList(t, comment, "// Converted by BuildContainerSpec:")
	harmlessList := commentList(t, comment, "// Harmless, with nothing to create:")
	for _, k := range convertedList {
		if serviceFields[k].class != converted {
			t.Errorf("convert_check.go says %q is converted; serviceFields says %q", k, serviceFields[k].class)
		}
	}
	for _, k := range harmlessList {
		if c := serviceFields[k].class; c != ignored && !(c == converted && k == "deploy") {
			t.Errorf("convert_check.go says %q is harmless; serviceFields says %q", k, c)
		}
	}
	for k, row := range serviceFields {
		listed := slices.Contains(convertedList, k) || slices.Contains(harmlessList, k)
		if row.class != refused && !listed && !strings.HasPrefix(k, "[") && k != "name" {
			t.Errorf("serviceFields says %q is %s; convert_check.go's comment does not list it", k, row.class)
		}
	}

	named := refusalNames(t, src)
	for k, row := range serviceFields {
		if row.class == refused && !row.schema && !named[k] {
			t.Errorf("serviceFields says %q is refused; refusals does not refuse it", k)
		}
	}
	for k := range named {
		top, _, _ := strings.Cut(k, ".")
		if row := serviceFields[top]; row.class != refused && row.refusedWhen == "" {
			t.Errorf("refusals refuses %q; serviceFields has no refused value of %q", k, top)
		}
	}
}

// commentList reads the comma-separated field names of the comment
// paragraph that starts with head, down to the first top-level names:
// "deploy.resources (limits …)" is deploy, "x- extensions" #extensions.
func commentList(t *testing.T, src, head string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(src, head)
	if !ok {
		t.Fatalf("convert_check.go has no %q", head)
	}
	para, _, _ := strings.Cut(rest, "\n//\n")
	text := strings.ReplaceAll(para, "\n//", "")
	text = regexp.MustCompile(`\([^)]*\)`).ReplaceAllString(text, "")
	var out []string
	for _, item := range strings.Split(strings.TrimSuffix(strings.TrimSpace(text), "."), ",") {
		item = strings.TrimPrefix(strings.TrimSpace(item), "and ")
		name, _, _ := strings.Cut(item, " ")
		name, _, _ = strings.Cut(name, ".")
		if name == "x-" {
			name = "#extensions"
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// refusalNames are the field names refusals passes to refuse.
func refusalNames(t *testing.T, src []byte) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "convert_check.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "refusals" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "refuse" {
				return true
			}
			if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				names[s] = true
			}
			return true
		})
	}
	if len(names) == 0 {
		t.Fatal("found no refuse calls in refusals")
	}
	return names
}
