package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/compose/observe"
	"github.com/berth-gitops/berth/rollout"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// stackFlags select a stack folder and how to load it, for config, plan
// and apply.
type stackFlags struct {
	project  string
	env      string
	envFiles []string
	profiles []string
	secrets  secretFlags
	// persistent keeps the decrypted files that containers mount (apply);
	// renderDir is where they went.
	persistent bool
	renderDir  string
	// red knows the values the load read: what config, plan and apply
	// print passes it (see compose.Redactor).
	red *compose.Redactor
}

func (f *stackFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.project, "project-name", "p", "", "project name (default: name: in the file, or the folder's name)")
	cmd.Flags().StringVar(&f.env, "env", "", "environment: apply compose.ENV.yaml and ENV.env")
	cmd.Flags().StringArrayVar(&f.envFiles, "env-file", nil, "env file for interpolation, instead of the folder's .env (repeatable)")
	cmd.Flags().StringArrayVar(&f.profiles, "profile", nil, "profile to enable (repeatable)")
	f.secrets.register(cmd.Flags())
}

// load reads the stack folder. Env templates and sops files are rendered
// into a private folder that goes away at once, except for apply, whose
// containers mount the decrypted files.
func (f *stackFlags) load(cmd *cobra.Command, dir string) (*types.Project, error) {
	o, cleanup, err := f.options(dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	p, err := load.Load(cmd.Context(), o)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return p, nil
}

// options are the load options the flags ask for; cleanup removes what
// rendering secrets left behind, unless it must persist.
func (f *stackFlags) options(dir string) (load.LoadOptions, func(), error) {
	o := load.LoadOptions{
		Dir: dir, ProjectName: f.project, Env: f.env, EnvFiles: f.envFiles, Profiles: f.profiles, OSEnv: true,
	}
	if f.red == nil {
		f.red = &compose.Redactor{}
	}
	o.Redactor = f.red
	cleanup, err := f.secrets.fill(&o, f.persistent)
	if err != nil {
		return o, nil, &exitError{code: 2, err: err}
	}
	f.renderDir = o.RenderDir
	return o, cleanup, nil
}

// connect pings the engine in the background, while the files load.
func connect(cmd *cobra.Command) <-chan engineConn {
	connected := make(chan engineConn, 1)
	go func() {
		c, err := observe.Connect(cmd.Context())
		connected <- engineConn{c, err}
	}()
	return connected
}

type engineConn struct {
	c   *client.Client
	err error
}

// close closes a connection that is not going to be used.
func (cn engineConn) close() {
	if cn.c != nil {
		_ = cn.c.Close()
	}
}

// deploy runs the deploy sequence (rollout.Deploy) on the stack folder,
// as berth run does for a commit: the files load while the engine is
// pinged. A failure before the rollout is exit 2, nothing was attempted;
// one of the rollout is exit 1. The engine is closed on return.
func (f *stackFlags) deploy(cmd *cobra.Command, dir string, r rollout.Request) (rollout.Deployment, error) {
	connected := connect(cmd)
	o, cleanup, err := f.options(dir)
	if err != nil {
		(<-connected).close()
		return rollout.Deployment{}, err
	}
	defer cleanup()
	var project string
	r.Load = func(ctx context.Context) (*types.Project, error) {
		p, err := load.Load(ctx, o)
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		project = p.Name
		return p, nil
	}
	var cn engineConn
	defer func() { cn.close() }()
	r.Connect = func(context.Context) (rollout.Engine, string, error) {
		cn = <-connected
		if cn.err != nil {
			return nil, "", cn.err
		}
		return cn.c, cn.c.ClientVersion(), nil
	}
	if f.persistent {
		r.RenderDir = o.RenderDir
	}
	dep, err := rollout.Deploy(cmd.Context(), r)
	if cn == (engineConn{}) {
		(<-connected).close() // the load failed: the engine was never asked for
	}
	switch stage := rollout.StageOf(err); {
	case err == nil:
		return dep, nil
	case stage == rollout.StageRollOut:
		return dep, &exitError{code: 1, err: errors.New(f.red.String(err.Error()))}
	case stage == rollout.StageEngine:
		err = fmt.Errorf("stack %s on this engine: %w", project, err)
	}
	if e := (*exitError)(nil); errors.As(err, &e) {
		return dep, e
	}
	return dep, &exitError{code: 2, err: err}
}

func newConfigCmd(g *globals) *cobra.Command {
	var f stackFlags
	var hash, showValues bool
	cmd := &cobra.Command{
		Use:   "config [flags] DIR",
		Short: "Print a stack's fully resolved model, or its services' config hashes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.load(cmd, args[0])
			if err != nil {
				return err
			}
			if hash {
				for _, name := range p.ServiceNames() {
					h, err := compose.ServiceHash(p.Services[name])
					if err != nil {
						return err
					}
					fmt.Fprintf(g.stdout, "%s %s\n", name, h)
				}
				return nil
			}
			if showValues {
				out, err := p.MarshalYAML()
				if err != nil {
					return err
				}
				_, err = g.stdout.Write(out)
				return err
			}
			out, err := compose.Masked(p).MarshalYAML()
			if err != nil {
				return err
			}
			// Masked hides the environment; a value interpolated into
			// another field (a label, a command) is stripped here.
			_, err = io.WriteString(g.stdout, f.red.String(string(out)))
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&hash, "hash", false, "print one \"SERVICE HASH\" line per service, like docker compose config --hash '*'")
	cmd.Flags().BoolVar(&showValues, "show-values", false, "show environment values instead of masking them")
	return cmd
}

func newPlanCmd(g *globals) *cobra.Command {
	var f stackFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan [flags] DIR",
		Short: "Show what apply would change; exit 0 in sync, 1 changes pending, 2 error",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dep, err := f.deploy(cmd, args[0], rollout.Request{PlanOnly: true})
			if err != nil {
				return err
			}
			pl := dep.Plan
			if asJSON {
				out, err := pl.JSON()
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s\n", f.red.String(string(out)))
			} else {
				fmt.Fprint(g.stdout, f.red.String(pl.String()))
			}
			if !pl.InSync() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

func newApplyCmd(g *globals) *cobra.Command {
	var f stackFlags
	var settle time.Duration
	cmd := &cobra.Command{
		Use:   "apply [flags] DIR",
		Short: "Roll the live stack out to the folder's files, behind health gates",
		Long: `Roll the live stack out to the folder's files: images pulled first,
migrations run, services replaced in dependency order (start-first or
stop-first), each held to its health gate, then the x-berth verify probes
and bake window. When something fails, the containers it replaced are put
back and apply exits 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if settle < 0 {
				return &exitError{code: 2, err: fmt.Errorf("--settle: %s is negative", settle)}
			}
			f.persistent = true
			stability := settle
			if stability == 0 {
				stability = -1 // only check that it runs
			}
			var start time.Time
			dep, err := f.deploy(cmd, args[0], rollout.Request{
				Options: func(p *types.Project) rollout.Options {
					return rollout.Options{
						Logger:     f.red.Logger(g.logger).With("stack", p.Name),
						Stability:  stability,
						RestoreAll: true,
						Progress: func(s rollout.Step) {
							if s.Waited == 0 {
								fmt.Fprintf(g.stdout, "%s\n", s.Message)
							}
						},
					}
				},
				Starting: func(rollout.Deployment) { start = time.Now() },
			})
			if err != nil {
				return err
			}
			p, pl := dep.Project, dep.Plan
			if pl.InSync() {
				fmt.Fprintf(g.stdout, "project %s is in sync\n", p.Name)
				return nil
			}
			if fail := dep.Failure; fail != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s\nthe containers it replaced were put back", f.red.String(fail.Error()))}
			}
			fmt.Fprintf(g.stdout, "project %s applied: %d operation(s) in %.1fs\n", p.Name, len(pl.Ops), time.Since(start).Seconds())
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&settle, "settle", rollout.DefaultStability, "how long a started container without a healthcheck must keep running, without a restart, to pass its gate (x-berth stability overrides it; 0: only check that it runs)")
	return cmd
}
