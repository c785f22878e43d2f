package config

// ApplyEnv sets what the BERTH_* variables say over c. An empty variable
// counts as unset (so BERTH_LISTEN=off, not "", disables the server). A
// variable that sets branch, tag or commit replaces the file's ref.
//
//	variable                             key
//	BERTH_CONFIG                         (the file to load; read by Flags.Resolve)
//	BERTH_REPO                           repo
//	BERTH_BRANCH                         branch
//	BERTH_TAG                            tag
//	BERTH_COMMIT                         commit
//	BERTH_PATH                           path
//	BERTH_HOST                           host
//	BERTH_ENV                            env
//	BERTH_DATA_DIR                       data_dir
//	BERTH_SECRETS_DIR                    secrets_dir
//	BERTH_AGE_KEY_FILE                   age_key_file
//	SOPS_AGE_KEY_FILE                    age_key_file, when nothing else sets it (read by Flags.Resolve)
//	BERTH_LISTEN                         listen
//	BERTH_POLL                           poll
//	BERTH_DRIFT                          drift
//	BERTH_SHALLOW                        shallow (true/false, 1/0)
//	BERTH_FETCH_TIMEOUT                  git.fetch_timeout (a Go duration)
//	BERTH_SETTLE                         settle (a Go duration)
//	BERTH_GIT_USERNAME                   git.username
//	BERTH_GIT_PASSWORD_FILE              git.password_file
//	BERTH_GIT_TOKEN_FILE                 git.token_file
//	BERTH_GIT_SSH_KEY_FILE               git.ssh_key_file
//	BERTH_GIT_KNOWN_HOSTS_FILE           git.known_hosts_file
//	BERTH_VERIFY_COMMITS                 git.verify_commits (true/false, 1/0)
//	BERTH_TRUSTED_KEYS_FILE              git.trusted_keys_file
//	BERTH_GITHUB_WEBHOOK_SECRET_FILE     webhooks.github_secret_file
//	BERTH_GITEA_WEBHOOK_SECRET_FILE      webhooks.gitea_secret_file
//	BERTH_GITLAB_WEBHOOK_TOKEN_FILE      webhooks.gitlab_token_file
//	BERTH_BITBUCKET_WEBHOOK_SECRET_FILE  webhooks.bitbucket_secret_file
//	BERTH_GENERIC_WEBHOOK_SECRET_FILE    webhooks.generic_secret_file
//	BERTH_WEBHOOK_MAX_CONCURRENT         webhooks.max_concurrent (a whole number)
//	BERTH_NOTIFY_SLACK_URL_FILE          notify.slack_url_file
//	BERTH_NOTIFY_DISCORD_URL_FILE        notify.discord_url_file
//	BERTH_NOTIFY_TEAMS_URL_FILE          notify.teams_url_file
//	BERTH_NOTIFY_WEBHOOK_URL             notify.webhook_url
//	BERTH_NOTIFY_WEBHOOK_SECRET_FILE     notify.webhook_secret_file
//	BERTH_NOTIFY_WINDOW                  notify.window (a duration)
//	BERTH_COMMIT_STATUS_PROVIDER         commit_status.provider
//	BERTH_COMMIT_STATUS_TOKEN_FILE       commit_status.token_file
//	BERTH_COMMIT_STATUS_URL              commit_status.url
//	BERTH_COMMIT_STATUS_OWNER            commit_status.owner
//	BERTH_COMMIT_STATUS_REPO             commit_status.repo
//	BERTH_STATUS_URL                     status_url
//	BERTH_STATUS_PAGE                    status_page (true/false, 1/0)
//	BERTH_POLICY_PROFILE                 policy.profile
//	BERTH_CONTROL_SOCKET                 control.socket
//	BERTH_CONTROL_GROUP                  control.group
//	BERTH_ALLOWED_HOSTS                  allowed_hosts (comma-separated)
//	BERTH_SHARED_SECRETS                 shared_secrets (comma-separated)
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
