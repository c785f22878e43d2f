package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/controller/config"
)

// secretFlags say where a stack command (config, plan, apply) finds the
// host's secrets and age key, as `berth run` does from its config:
// --secrets-dir, else BERTH_SECRETS_DIR, else /etc/berth/secrets;
// --age-key-file, else BERTH_AGE_KEY_FILE, else SOPS_AGE_KEY_FILE.
type secretFlags struct {
	fs         *pflag.FlagSet
	secretsDir string
	ageKeyFile string
	shared     []string
	// getenv reads the variables; nil means os.Getenv.
	getenv func(string) string
}

// register adds --secrets-dir and --age-key-file to fs.
func (f *secretFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.secretsDir, "secrets-dir", config.DefaultSecretsDir,
		`folder of host secrets, one file per secret, for {{ secret "NAME" }} in env templates (env BERTH_SECRETS_DIR)`)
	fs.StringSliceVar(&f.shared, "shared-secrets", nil,
		"patterns (path.Match) of secrets at the top of the secrets dir the stack may read; its own are in SECRETS_DIR/FOLDER/ (env BERTH_SHARED_SECRETS)")
	fs.StringVar(&f.ageKeyFile, "age-key-file", "",
		"age identity file that decrypts the stack's sops files (env BERTH_AGE_KEY_FILE, else SOPS_AGE_KEY_FILE)")
}

// fill sets o's SecretsDir, AgeKeyFile and RenderDir. Decrypted files go
// to a private temporary folder that cleanup removes, except with
// persistent (apply), where containers mount them: then the folder is
// persistentRenderDir's and stays. Call cleanup when the command ends.
func (f *secretFlags) fill(o *load.LoadOptions, persistent bool) (cleanup func(), err error) {
	getenv := f.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	secrets, key := f.secretsDir, f.ageKeyFile
	if f.fs == nil || !f.fs.Changed("secrets-dir") {
		if v := getenv("BERTH_SECRETS_DIR"); v != "" {
			secrets = v
		}
	}
	if f.fs == nil || !f.fs.Changed("age-key-file") {
		key = firstSet(getenv("BERTH_AGE_KEY_FILE"), getenv(config.EnvSopsAgeKeyFile), key)
	}
	for _, p := range []*string{&secrets, &key} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return nil, err
			}
		}
	}
	o.SecretsDir, o.AgeKeyFile = secrets, key
	// As berth run does for a stack: its own secrets are in the folder
	// named as the stack's folder.
	o.Stack, o.SharedSecrets = stackName(o.Dir), f.shared
	if f.fs == nil || !f.fs.Changed("shared-secrets") {
		if v := getenv("BERTH_SHARED_SECRETS"); v != "" {
			o.SharedSecrets = strings.Split(v, ",")
		}
	}
	if persistent {
		o.RenderDir, err = persistentRenderDir(getenv, o.Dir)
		return func() {}, err
	}
	base := getenv("XDG_RUNTIME_DIR") // a tmpfs private to the user, when there is one
	if st, err := os.Stat(base); base == "" || err != nil || !st.IsDir() {
		base = os.TempDir()
	}
	// The folder is only made when the stack has something to render: a
	// plan of a plain stack writes nothing, and needs no writable temp dir
	// (the berth image has none).
	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	dir := filepath.Join(base, "berth-render-"+hex.EncodeToString(suffix))
	o.RenderDir = dir
	return func() { _ = os.RemoveAll(dir) }, nil
}

// persistentRenderDir is where `berth apply` keeps a stack folder's
// decrypted files for its containers to mount across restarts:
// $XDG_STATE_HOME/berth/rendered/<folder>-<digest of its path>, or
// ~/.local/state/... when XDG_STATE_HOME is unset.
func persistentRenderDir(getenv func(string) string, stackDir string) (string, error) {
	abs, err := filepath.Abs(stackDir)
	if err != nil {
		return "", err
	}
	base := getenv("XDG_STATE_HOME")
	if base == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("render dir: neither XDG_STATE_HOME nor HOME is set")
		}
		base = filepath.Join(home, ".local", "state")
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "berth", "rendered", filepath.Base(abs)+"-"+hex.EncodeToString(sum[:4])), nil
}

// stackName is the stack a folder holds: the folder's name.
func stackName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.Base(dir)
	}
	return filepath.Base(abs)
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
