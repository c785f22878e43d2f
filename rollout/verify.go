package rollout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/observe"
)

// Verify runs the stack's verification probes (top-level x-berth verify)
// once, each with its retries, and returns the first that failed, or nil.
// A controller calls it after a rollback to check the state it went back
// to.
func Verify(ctx context.Context, e Engine, p *types.Project, o Options) *Failure {
	set, err := compose.ReadStackSettings(p)
	if err != nil {
		return &Failure{Gate: GateProbe, Reason: err.Error()}
	}
	return verify(ctx, e, p, set.Verify, o.Progress)
}

func verify(ctx context.Context, e Engine, p *types.Project, probes []compose.Probe, progress func(Step)) *Failure {
	for _, pr := range probes {
		if progress != nil {
			progress(Step{Service: probeService(pr), Gate: GateProbe, Message: "verify: " + pr.String()})
		}
		if f := runProbe(ctx, e, p, pr); f != nil {
			return f
		}
	}
	return nil
}

// Probe runs one verification probe of a stack with its timeout and
// retries: the scheduled journeys of a controller run the same probes as
// a deploy's verification.
func Probe(ctx context.Context, e Engine, p *types.Project, pr compose.Probe) *Failure {
	return runProbe(ctx, e, p, pr)
}

// probeService is the service an exec probe runs in; "" for HTTP.
func probeService(p compose.Probe) string {
	if p.Exec != nil {
		return p.Exec.Service
	}
	return ""
}

// runProbe tries a probe up to Retries times, Interval apart.
func runProbe(ctx context.Context, e Engine, p *types.Project, pr compose.Probe) *Failure {
	var f *Failure
	for attempt := 1; attempt <= max(pr.Retries, 1); attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return &Failure{Service: f.Service, Gate: GateProbe, Reason: ctx.Err().Error()}
			case <-time.After(pr.Interval):
			}
		}
		actx, cancel := context.WithTimeout(ctx, pr.Timeout)
		if pr.HTTP != nil {
			f = httpProbe(actx, e, p, pr.HTTP)
		} else {
			f = execProbe(actx, e, p, pr.Exec)
		}
		cancel()
		if f == nil || f.unreached != nil {
			return f
		}
	}
	f.Reason = fmt.Sprintf("%s: %s (%d attempt(s))", pr, f.Reason, max(pr.Retries, 1))
	return f
}

// httpProbe GETs a URL as seen from inside the stack: a host that names a
// service, a container or a network alias of the project is dialled at that
// container's address on the project's network, which berth reaches
// directly (a host process, or berth in a container with --network host).
// Any other host is resolved as usual.
func httpProbe(ctx context.Context, e Engine, p *types.Project, h *compose.HTTPProbe) *Failure {
	u, err := url.Parse(h.URL)
	if err != nil {
		return &Failure{Gate: GateProbe, Reason: err.Error()}
	}
	service, ip, err := resolveHost(ctx, e, p, u.Hostname())
	if err != nil {
		return engineFailure(&Failure{Service: service, Gate: GateProbe, Reason: err.Error()}, err)
	}
	dialer := &net.Dialer{}
	if ip == "" {
		// A host outside the stack is dialled from berth's own network
		// namespace: it must not be the host itself or the link-local
		// range (a cloud's metadata service), whatever a name resolves to.
		dialer.Control = refuseHostAddress
	}
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ip != "" {
				_, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				addr = net.JoinHostPort(ip, port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return &Failure{Service: service, Gate: GateProbe, Reason: err.Error()}
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return &Failure{Service: service, Gate: GateProbe, Reason: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return &Failure{Service: service, Gate: GateProbe, Reason: fmt.Sprintf("read body: %v", err)}
	case resp.StatusCode != h.Status:
		return &Failure{Service: service, Gate: GateProbe, Reason: fmt.Sprintf("status %d, want %d (body: %d bytes)", resp.StatusCode, h.Status, len(body))}
	case h.Body != "" && !strings.Contains(string(body), h.Body):
		return &Failure{Service: service, Gate: GateProbe, Reason: fmt.Sprintf("body (%d bytes) does not contain %q", len(body), h.Body)}
	}
	return nil
}

// refuseHostAddress refuses to connect to loopback, link-local and
// unspecified addresses.
func refuseHostAddress(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	a = a.Unmap()
	if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() {
		return fmt.Errorf("%s is the host's own or a link-local address; a probe reaches the stack's containers and other hosts only", a)
	}
	return nil
}

// resolveHost finds the container a probe's host names in the project (a
// service name, a container name, a network alias or a hostname) and
// returns its service and its address on one of the project's networks.
// A host that names nothing of the project resolves to "".
func resolveHost(ctx context.Context, e Engine, p *types.Project, host string) (service, ip string, err error) {
	cs, err := projectContainers(ctx, e, p.Name)
	if err != nil {
		return "", "", err
	}
	for _, c := range cs {
		svc := c.Labels[compose.LabelService]
		if !slices.Contains(names(p, c), host) {
			continue
		}
		if c.State != container.StateRunning {
			continue
		}
		in, err := e.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return svc, "", err
		}
		if addr := projectAddress(p, in.Container); addr != "" {
			return svc, addr, nil
		}
		return svc, "", fmt.Errorf("container %s has no address on the stack's networks", containerName(c))
	}
	if _, ok := p.Services[host]; ok {
		return host, "", fmt.Errorf("service %q has no running container", host)
	}
	return "", "", nil
}

// names are the names a container answers to on the stack's networks.
func names(p *types.Project, c container.Summary) []string {
	svc := c.Labels[compose.LabelService]
	out := []string{svc, containerName(c)}
	if s, ok := p.Services[svc]; ok {
		if s.Hostname != "" {
			out = append(out, s.Hostname)
		}
		for _, n := range s.Networks {
			if n != nil {
				out = append(out, n.Aliases...)
			}
		}
	}
	return out
}

// projectAddress is a container's IP on the first of the project's
// networks it is on (sorted by name), or on any network.
func projectAddress(p *types.Project, in container.InspectResponse) string {
	if in.NetworkSettings == nil {
		return ""
	}
	wanted := map[string]bool{}
	for _, n := range p.Networks {
		wanted[n.Name] = true
	}
	nets := make([]string, 0, len(in.NetworkSettings.Networks))
	for name := range in.NetworkSettings.Networks {
		nets = append(nets, name)
	}
	sort.SliceStable(nets, func(i, j int) bool {
		if wanted[nets[i]] != wanted[nets[j]] {
			return wanted[nets[i]]
		}
		return nets[i] < nets[j]
	})
	for _, name := range nets {
		if ep := in.NetworkSettings.Networks[name]; ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String()
		}
	}
	return ""
}

// engineFailure marks f as the engine out of reach when err says so.
func engineFailure(f *Failure, err error) *Failure {
	if observe.Unreachable(err) {
		f.unreached = err
	}
	return f
}

// execProbe runs a command in the service's first running container.
func execProbe(ctx context.Context, e Engine, p *types.Project, x *compose.ExecProbe) *Failure {
	fail := func(format string, args ...any) *Failure {
		return &Failure{Service: x.Service, Gate: GateProbe, Reason: fmt.Sprintf(format, args...)}
	}
	engineFail := func(err error) *Failure { return engineFailure(fail("%v", err), err) }
	cs, err := projectContainers(ctx, e, p.Name)
	if err != nil {
		return engineFail(err)
	}
	id := ""
	for _, c := range cs {
		if c.Labels[compose.LabelService] == x.Service && c.State == container.StateRunning {
			id = c.ID
			break
		}
	}
	if id == "" {
		return fail("service %q has no running container", x.Service)
	}
	ex, err := e.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: x.Command, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return engineFail(err)
	}
	att, err := e.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return engineFail(err)
	}
	var out bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&out, &out, io.LimitReader(att.Reader, 1<<20))
		copied <- err
	}()
	select {
	case <-ctx.Done():
		att.Close()
		<-copied
		return fail("no answer within the timeout")
	case <-copied:
		att.Close()
	}
	res, err := e.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return engineFail(err)
	}
	if res.Running {
		return fail("still running")
	}
	if res.ExitCode != 0 {
		// Only the code: the output may print any value the container holds.
		return fail("exit code %d", res.ExitCode)
	}
	return nil
}

// projectContainers lists a project's containers, by service and number,
// without one-off ones and those a rollout set aside.
func projectContainers(ctx context.Context, e observe.Observer, project string) ([]container.Summary, error) {
	res, err := e.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", compose.LabelProject+"="+project),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", project, err)
	}
	var out []container.Summary
	for _, c := range res.Items {
		if c.Labels[compose.LabelOneoff] == "True" || compose.IsAside(containerName(c)) {
			continue
		}
		out = append(out, c)
	}
	number := func(c container.Summary) int { n, _ := strconv.Atoi(c.Labels[compose.LabelContainerNumber]); return n }
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Labels[compose.LabelService] != b.Labels[compose.LabelService] {
			return a.Labels[compose.LabelService] < b.Labels[compose.LabelService]
		}
		return number(a) < number(b)
	})
	return out, nil
}

func containerName(c container.Summary) string {
	if len(c.Names) == 0 {
		return compose.ShortID(c.ID)
	}
	return strings.TrimPrefix(c.Names[0], "/")
}
