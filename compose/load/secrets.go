package load

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/envtmpl"
	"github.com/berth-gitops/berth/compose/sops"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/budget"
)

// Secrets reach a stack in two ways, and a load turns both into files that
// compose-go and the engine read as usual:
//
//   - env templates (*.tmpl as an env file) are rendered, with host secrets
//     read by name from LoadOptions.SecretsDir, and sops dotenv files are
//     decrypted; the results are env files that exist only during the load
//     (in a private folder of the render dir, removed when it ends): their
//     values land in the services' environment, which the config hash
//     covers, so a changed secret rolls the service.
//   - sops-encrypted files that compose secrets: or configs: point at are
//     decrypted into the render dir as <name>-<sha256 prefix>, which the
//     containers bind-mount. A file's content is not part of the config
//     hash, so each service that mounts one gets the label
//     dev.berth.rendered, a digest of what it mounts: a changed secret
//     changes the hash and rolls the service.
//
// No secret value leaves through an error: a load's error is stripped of
// every value it read, and rendered paths are shown as their sources.

// LabelBerthRendered is the digest of the decrypted files a service mounts.
const LabelBerthRendered = "dev.berth.rendered"

// Modes of what berth writes. Decrypted files are mounted into containers,
// where a bind mount keeps the host file's mode: 0444, the compose spec's
// default for secrets, lets a service that runs as any user read its
// secret, as compose does for file secrets; the 0700 render dir keeps them
// from every other user of the host.
const (
	renderDirMode   = 0o700
	renderedEnvMode = 0o600
	mountedFileMode = 0o444
)

// maxSopsFile bounds what is read to tell whether a secret or config file
// is a sops file; a larger file is used as it is.
const maxSopsFile = 64 << 20

var secretNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// renderer renders and decrypts what one load needs.
type renderer struct {
	dir       string // the stack folder
	o         LoadOptions
	guard     *fileGuard // what the stack's files may name
	renderDir string     // absolute; "" when none was given
	work      string     // this load's private folder for env files

	ids     []age.Identity
	idsErr  error
	idsRead bool

	secrets map[string]string // host secrets read, by name
	red     *compose.Redactor // every plaintext seen, for redact
	paths   map[string]string // rendered file → its source
	mounted map[string]string // secret/config file → digest of its content
	envs    map[string]string // env file → the file to read instead
	// substituted are the values interpolation put in, remembered once.
	substituted map[string]bool
}

func newRenderer(dir string, o LoadOptions) (*renderer, error) {
	red := o.Redactor
	if red == nil {
		red = &compose.Redactor{}
	}
	r := &renderer{dir: dir, o: o, red: red, secrets: map[string]string{}, paths: map[string]string{},
		mounted: map[string]string{}, envs: map[string]string{},
		substituted: map[string]bool{}}
	if o.RenderDir != "" && !o.Placeholders {
		abs, err := filepath.Abs(o.RenderDir)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(dir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("render dir %s is inside the stack folder: rendered secrets must never land there", abs)
		}
		r.renderDir = abs
	}
	return r, nil
}

// close removes the load's env files.
func (r *renderer) close() {
	if r.work != "" {
		_ = os.RemoveAll(r.work)
	}
}

// interpolation returns the interpolation value files for compose-go, each
// template rendered and each sops file decrypted.
func (r *renderer) interpolation(files []string) ([]string, error) {
	out := make([]string, len(files))
	for i, f := range files {
		p, err := r.envFile(f)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// envFile renders or decrypts an env file that needs it and returns the
// path to read instead.
func (r *renderer) envFile(path string) (string, error) {
	if done, ok := r.envs[path]; ok {
		return done, nil
	}
	rel := r.rel(path)
	data, err := budget.ReadFile(rel, path, MaxStackFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil // compose-go reports it, or skips an optional one
	}
	if err != nil {
		return "", err
	}
	var res *envtmpl.Rendered
	switch {
	case strings.HasSuffix(path, ".tmpl"):
		if res, err = envtmpl.Render(rel, string(data), r.secret); err != nil {
			return "", err
		}
	case sops.Named(path) || sops.IsFile(path, data):
		if res, err = r.decryptEnv(path, rel, data); err != nil {
			return "", fmt.Errorf("sops file %s: %w", rel, err)
		}
	default:
		return path, nil
	}
	if err := checkDotenv(res.Text); err != nil {
		return "", fmt.Errorf("%s: rendered, it is not an env file: %w", rel, err)
	}
	out, err := r.writeEnv(strings.TrimSuffix(filepath.Base(path), ".tmpl"), res.Text)
	if err != nil {
		return "", err
	}
	r.paths[out] = rel
	r.envs[path] = out
	return out, nil
}

// decryptEnv decrypts a sops dotenv file into what `sops decrypt` prints,
// which compose then reads as it reads any env file.
func (r *renderer) decryptEnv(path, rel string, data []byte) (*envtmpl.Rendered, error) {
	if sops.StoreOf(path) != sops.Dotenv {
		return nil, errors.New("an env file must be a sops dotenv file (name it *.sops.env)")
	}
	d, err := sops.Parse(path, data)
	if err != nil {
		return nil, err
	}
	if r.o.Placeholders {
		text := d.Dotenv(func(v any) string { return "sops-" + shortDigest(fmt.Sprint(v)) })
		return &envtmpl.Rendered{Text: string(text)}, nil
	}
	if err := r.decrypt(d); err != nil {
		return nil, err
	}
	text, err := d.Plaintext()
	if err != nil {
		return nil, err
	}
	return &envtmpl.Rendered{Text: string(text)}, nil
}

// decrypt decrypts d with the age keys and remembers its values.
func (r *renderer) decrypt(d *sops.Doc) error {
	ids, err := r.identities()
	if err != nil {
		return err
	}
	if err := d.Decrypt(ids); err != nil {
		return err
	}
	d.Strings(r.remember)
	return nil
}

// materialize decrypts the sops files that the project's env_file,
// secrets: and configs: name, points the project at the results and labels
// the services that mount them. It runs before env_file is merged.
func (r *renderer) materialize(p *types.Project) error {
	for name, s := range p.Services {
		for i, ef := range s.EnvFiles {
			out, err := r.envFile(ef.Path)
			if err != nil {
				return fmt.Errorf("service %q: env_file: %w", name, err)
			}
			if out != ef.Path && ef.Format != "" {
				return fmt.Errorf("service %q: env_file %s: format %q cannot be rendered", name, r.rel(ef.Path), ef.Format)
			}
			s.EnvFiles[i].Path = out
		}
		p.Services[name] = s
	}
	// Only what an enabled service mounts: a secret of a profile that is
	// off needs no key.
	secrets, configs := map[string]bool{}, map[string]bool{}
	for _, s := range p.Services {
		for _, ref := range s.Secrets {
			secrets[ref.Source] = true
		}
		for _, ref := range s.Configs {
			configs[ref.Source] = true
		}
	}
	for key := range secrets {
		def, ok := p.Secrets[key]
		if !ok {
			continue // CheckSupported names it
		}
		f, err := r.fileObject(def.File)
		if err != nil {
			return fmt.Errorf("secret %q: %w", key, err)
		}
		def.File = f
		p.Secrets[key] = def
	}
	for key := range configs {
		def, ok := p.Configs[key]
		if !ok {
			continue
		}
		f, err := r.fileObject(def.File)
		if err != nil {
			return fmt.Errorf("config %q: %w", key, err)
		}
		def.File = f
		p.Configs[key] = def
	}
	for name, s := range p.Services {
		if d := r.serviceDigest(p, s); d != "" {
			if s.Labels == nil {
				s.Labels = types.Labels{}
			}
			s.Labels[LabelBerthRendered] = d
			p.Services[name] = s
		}
	}
	return nil
}

// fileObject decrypts the file of a secret or config when it is a sops
// file and returns the path to mount.
func (r *renderer) fileObject(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	rel := r.rel(path)
	if strings.HasSuffix(path, ".env.tmpl") {
		return "", fmt.Errorf("%s is an env template: templates render as env files only (env_file:)", rel)
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return path, nil // the engine reports a missing file when it mounts it
	}
	if !sops.Named(path) && (st.Size() > maxSopsFile || !tailMentionsSops(path, st.Size())) {
		return path, nil
	}
	data, err := budget.ReadFile(r.rel(path), path, MaxMountedFileSize)
	if err != nil {
		return "", err
	}
	if !sops.Named(path) && !sops.IsFile(path, data) {
		return path, nil
	}
	d, err := sops.Parse(path, data)
	if err != nil {
		return "", fmt.Errorf("sops file %s: %w", rel, err)
	}
	if r.o.Placeholders {
		r.mounted[path] = shortDigest(string(data))
		return path, nil
	}
	if err := r.decrypt(d); err != nil {
		return "", fmt.Errorf("sops file %s: %w", rel, err)
	}
	plain, err := d.Plaintext()
	if err != nil {
		return "", fmt.Errorf("sops file %s: %w", rel, err)
	}
	if d.Store == sops.Binary {
		r.remember(string(plain))
	}
	out, err := r.writeMounted(strings.Replace(filepath.Base(path), ".sops", "", 1), plain)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(plain)
	r.mounted[out] = hex.EncodeToString(sum[:])
	r.paths[out] = rel
	return out, nil
}

// serviceDigest digests the decrypted files s mounts; "" when none.
func (r *renderer) serviceDigest(p *types.Project, s types.ServiceConfig) string {
	var entries []string
	for _, ref := range s.Secrets {
		if d, ok := r.mounted[p.Secrets[ref.Source].File]; ok {
			entries = append(entries, "secret\x00"+ref.Source+"\x00"+d)
		}
	}
	for _, ref := range s.Configs {
		if d, ok := r.mounted[p.Configs[ref.Source].File]; ok {
			entries = append(entries, "config\x00"+ref.Source+"\x00"+d)
		}
	}
	if len(entries) == 0 {
		return ""
	}
	slices.Sort(entries)
	d := compose.NewDigest()
	d.List(entries)
	return d.Sum()
}

// secret is the template function's lookup of a host secret.
func (r *renderer) secret(name string) (string, error) {
	if !secretNameRe.MatchString(name) || name == "." || name == ".." {
		return "", &envtmpl.SecretError{Msg: fmt.Sprintf("secret name %q: use letters, digits, '.', '_' and '-' only", name)}
	}
	if r.o.Placeholders {
		return "berth-placeholder-" + name, nil
	}
	if v, ok := r.secrets[name]; ok {
		return v, nil
	}
	if r.o.SecretsDir == "" {
		return "", &envtmpl.SecretError{Msg: fmt.Sprintf("secret %q: no secrets dir is set (--secrets-dir)", name)}
	}
	b, err := r.readSecret(name)
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	r.secrets[name] = v
	r.remember(v)
	return v, nil
}

// readSecret reads a host secret: the stack's own, in SecretsDir/<stack>/,
// or a shared one at the top of SecretsDir when the host lists its name in
// SharedSecrets.
func (r *renderer) readSecret(name string) ([]byte, error) {
	own := filepath.Join(r.o.SecretsDir, r.o.Stack, name)
	if r.o.Stack != "" {
		b, err := os.ReadFile(own)
		if !errors.Is(err, fs.ErrNotExist) {
			return b, secretReadError(name, err)
		}
	}
	shared := filepath.Join(r.o.SecretsDir, name)
	if r.o.Stack != "" && !r.shared(name) {
		if _, err := os.Stat(shared); err == nil {
			return nil, &envtmpl.SecretError{Msg: fmt.Sprintf("secret %q is shared (%s) and not allowed for stack %q: put it in %s, or list it in the host setting shared_secrets", name, shared, r.o.Stack, own)}
		}
		return nil, &envtmpl.SecretError{Msg: fmt.Sprintf("secret %q is not in %s", name, own)}
	}
	b, err := os.ReadFile(shared)
	if errors.Is(err, fs.ErrNotExist) {
		if r.o.Stack != "" {
			return nil, &envtmpl.SecretError{Msg: fmt.Sprintf("secret %q is not in %s nor, shared, in %s", name, own, shared)}
		}
		return nil, &envtmpl.SecretError{Msg: fmt.Sprintf("secret %q is not in %s", name, r.o.SecretsDir)}
	}
	return b, secretReadError(name, err)
}

// shared reports whether the host lets the stack read a shared secret: a
// pattern without '/' matches the secret's name for every stack, one with
// it matches STACK/NAME ("shop/smtp_password", "*/registry_token").
func (r *renderer) shared(name string) bool {
	for _, p := range r.o.SharedSecrets {
		subject := name
		if strings.Contains(p, "/") {
			subject = r.o.Stack + "/" + name
		}
		if ok, _ := path.Match(p, subject); ok {
			return true
		}
	}
	return false
}

func secretReadError(name string, err error) error {
	if err == nil {
		return nil
	}
	return &envtmpl.SecretError{Msg: fmt.Sprintf("secret %q: %v", name, err)}
}

func (r *renderer) identities() ([]age.Identity, error) {
	if !r.idsRead {
		r.idsRead = true
		if r.o.AgeKeyFile == "" {
			r.idsErr = errors.New("no age key to decrypt it: set --age-key-file (or SOPS_AGE_KEY_FILE)")
		} else {
			r.ids, r.idsErr = sops.ReadAgeIdentities(r.o.AgeKeyFile)
		}
	}
	return r.ids, r.idsErr
}

// remember keeps a plaintext, and its lines, to strip from errors (see
// Redactor for the values too short to strip).
func (r *renderer) remember(v string) { r.red.Add(v) }

// redactText strips every value read during the load from an error's
// message, and names rendered files by their sources. The names in keep
// (the stack's file names) are never taken for values.
func (r *renderer) redactText(msg string, keep []string) string {
	out := msg
	for rendered, src := range r.paths {
		out = strings.ReplaceAll(out, rendered, src)
	}
	if r.work != "" {
		out = strings.ReplaceAll(out, r.work, "(rendered)")
	}
	values := r.red.Values()
	if len(values) == 0 {
		return out
	}
	// A value that holds a name goes first, while it is whole.
	for _, v := range values {
		if slices.ContainsFunc(keep, func(k string) bool { return k != "" && strings.Contains(v, k) }) {
			out = strings.ReplaceAll(out, v, "********")
		}
	}
	var swap []string
	for i, k := range keep {
		if k != "" && strings.Contains(out, k) {
			token := fmt.Sprintf("\x00%d\x00", i)
			out = strings.ReplaceAll(out, k, token)
			swap = append(swap, token, k)
		}
	}
	for _, v := range values {
		out = strings.ReplaceAll(out, v, "********")
	}
	return strings.NewReplacer(swap...).Replace(out)
}

// rel names a file by its path in the stack folder when it is in it.
func (r *renderer) rel(path string) string {
	if rel, err := filepath.Rel(r.dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

var dotenvLine = regexp.MustCompile(`line \d+`)

// checkDotenv parses text as compose will, and reports only a line
// number: the text holds secrets.
func checkDotenv(text string) error {
	_, err := dotenv.ParseWithLookup(strings.NewReader(text), func(string) (string, bool) { return "x", true })
	if err == nil {
		return nil
	}
	if m := dotenvLine.FindString(err.Error()); m != "" {
		return errors.New(m)
	}
	return errors.New("it does not parse")
}

func shortDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}
