package config

// ApplyEnv sets what the BERTH_* variables say over c. An empty variable
// counts as unset (so BERTH_LISTEN=off, not "", disables the server). A
// variable that sets branch, tag or commit replaces the file's ref.
//
//	variable                     key
//	BERTH_CONFIG                 (the file to load; read by Flags.Resolve)
//	BERTH_REPO                   repo
//	BERTH_BRANCH                 branch
//	BERTH_TAG                    tag
//	BERTH_COMMIT                 commit
//	BERTH_PATH                   path
//	BERTH_HOST                   host
//	BERTH_ENV                    env
//	BERTH_DATA_DIR               data_dir
//	BERTH_LISTEN                 listen
//	BERTH_POLL                   poll
//	BERTH_DRIFT                  drift
//	BERTH_SHALLOW                shallow (true/false, 1/0)
//	BERTH_SETTLE                 settle (a Go duration)
//	BERTH_GIT_USERNAME           git.username
//	BERTH_GIT_PASSWORD_FILE      git.password_file
//	BERTH_GIT_TOKEN_FILE         git.token_file
//	BERTH_GIT_SSH_KEY_FILE       git.ssh_key_file
//	BERTH_GIT_KNOWN_HOSTS_FILE   git.known_hosts_file
//	BERTH_VERIFY_COMMITS         git.verify_commits (true/false, 1/0)
//	BERTH_TRUSTED_KEYS_FILE      git.trusted_keys_file
//
// Each variable is BERTH_ and its flag's name in capitals.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	var as []assignment
	for _, s := range settings {
		if v := getenv(s.env()); v != "" {
			as = append(as, assignment{s: s, source: s.env(), value: v})
		}
	}
	return c.apply(as)
}

// EnvConfig names the variable holding the config file's path.
const EnvConfig = "BERTH_CONFIG"
