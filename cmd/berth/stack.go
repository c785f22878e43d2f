package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
	"github.com/berth-gitops/berth/compose/convert"
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

// checkEngine takes the outcome of a connect and refuses a stack that uses
// fields the engine's API version would silently ignore.
func checkEngine(project string, reqs []convert.EngineRequirement, cn engineConn) (*client.Client, error) {
	if cn.err != nil {
		return nil, &exitError{code: 2, err: cn.err}
	}
	if err := convert.CheckEngineRequirements(reqs, cn.c.ClientVersion()); err != nil {
		cn.close()
		return nil, &exitError{code: 2, err: fmt.Errorf("stack %s on this engine: %w", project, err)}
	}
	return cn.c, nil
}

// stackDiff is a loaded stack, the engine it runs on and the plan between.
type stackDiff struct {
	project *types.Project
	engine  *client.Client
	desired *compose.Desired
	plan    compose.Plan
}

// diff loads the stack folder, checks that the engine supports its fields,
// observes the live project and plans: the one path of plan and apply, so
// that what plan shows is what apply does. Every failure here is exit 2:
// nothing was attempted. The caller closes the engine.
func (f *stackFlags) diff(cmd *cobra.Command, dir string) (*stackDiff, error) {
	connected := connect(cmd)
	p, err := f.load(cmd, dir)
	cn := <-connected
	if err != nil {
		cn.close()
		return nil, err
	}
	c, err := checkEngine(p.Name, convert.EngineRequirements(p), cn)
	if err != nil {
		return nil, err
	}
	d, pl, err := apply.Diff(cmd.Context(), c, p)
	if err != nil {
		_ = c.Close()
		return nil, &exitError{code: 2, err: err}
	}
	return &stackDiff{project: p, engine: c, desired: d, plan: pl}, nil
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
			st, err := f.diff(cmd, args[0])
			if err != nil {
				return err
			}
			_ = st.engine.Close()
			pl := st.plan
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
			st, err := f.diff(cmd, args[0])
			if err != nil {
				return err
			}
			defer st.engine.Close()
			p, pl := st.project, st.plan
			if err := rollout.Check(p); err != nil {
				return &exitError{code: 2, err: err}
			}
			for _, w := range pl.Warnings {
				g.logger.Warn(w, "stack", p.Name)
			}
			if pl.InSync() {
				fmt.Fprintf(g.stdout, "project %s is in sync\n", p.Name)
				return nil
			}
			stability := settle
			if stability == 0 {
				stability = -1 // only check that it runs
			}
			start := time.Now()
			log := f.red.Logger(g.logger).With("stack", p.Name)
			res, err := rollout.Run(cmd.Context(), st.engine, p, st.desired, pl, rollout.Options{
				Logger:     log,
				Stability:  stability,
				RestoreAll: true,
				Progress: func(s rollout.Step) {
					if s.Waited == 0 {
						fmt.Fprintf(g.stdout, "%s\n", s.Message)
					}
				},
			})
			if err != nil {
				return &exitError{code: 1, err: errors.New(f.red.String(err.Error()))}
			}
			if fail := res.Failure; fail != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s\nthe containers it replaced were put back", f.red.String(fail.Error()))}
			}
			fmt.Fprintf(g.stdout, "project %s applied: %d operation(s) in %.1fs\n", p.Name, len(pl.Ops), time.Since(start).Seconds())
			if err := load.PruneRendered(f.renderDir, p); err != nil {
				log.Warn("prune decrypted files no container mounts", "error", err)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&settle, "settle", rollout.DefaultStability, "how long a started container without a healthcheck must keep running, without a restart, to pass its gate (x-berth stability overrides it; 0: only check that it runs)")
	return cmd
}
