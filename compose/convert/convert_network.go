package convert

import (
	"fmt"
	"maps"
	"net"
	"net/netip"

	"github.com/berth-gitops/berth/compose"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// ifnameDriverOpt is the endpoint driver option that interface_name sets.
const ifnameDriverOpt = "com.docker.network.endpoint.ifname"

// exposedPorts lists expose: entries (ranges expanded, tcp by default) and
// the container side of every ports: entry.
func exposedPorts(s types.ServiceConfig) (network.PortSet, error) {
	set := network.PortSet{}
	for _, e := range s.Expose {
		r, err := network.ParsePortRange(e)
		if err != nil {
			return nil, fmt.Errorf("expose: %w", err)
		}
		for port := range r.All() {
			set[port] = struct{}{}
		}
	}
	for _, p := range s.Ports {
		port, err := containerPort(p)
		if err != nil {
			return nil, err
		}
		set[port] = struct{}{}
	}
	if len(set) == 0 {
		return nil, nil
	}
	return set, nil
}

func containerPort(p types.ServicePortConfig) (network.Port, error) {
	proto := p.Protocol
	if proto == "" {
		proto = string(network.TCP)
	}
	if p.Target == 0 || p.Target > 65535 {
		return network.Port{}, fmt.Errorf("ports: invalid target port %d", p.Target)
	}
	port, ok := network.PortFrom(uint16(p.Target), network.IPProtocol(proto))
	if !ok {
		return network.Port{}, fmt.Errorf("ports: invalid port %d/%s", p.Target, proto)
	}
	return port, nil
}

// portBindings publishes every ports: entry. compose-go has already split
// "8080-8081:80-81" into one entry per port; a published range for a single
// target ("8000-8010:80") stays a range and the engine picks a free port in
// it. An entry without a published port gets an ephemeral one.
func portBindings(s types.ServiceConfig) (network.PortMap, error) {
	if len(s.Ports) == 0 {
		return nil, nil
	}
	m := network.PortMap{}
	for _, p := range s.Ports {
		port, err := containerPort(p)
		if err != nil {
			return nil, err
		}
		var ip netip.Addr
		if p.HostIP != "" {
			if ip, err = netip.ParseAddr(p.HostIP); err != nil {
				return nil, fmt.Errorf("ports: host_ip %q is not an IP address", p.HostIP)
			}
		}
		m[port] = append(m[port], network.PortBinding{HostIP: ip, HostPort: p.Published})
	}
	return m, nil
}

// networking chooses the network mode and the endpoints. The network with
// the highest priority (then the lowest name) is the primary one: it goes in
// the create call and its engine name is the network mode, as compose does.
func networking(p *types.Project, s types.ServiceConfig, name string) (container.NetworkMode, *network.NetworkingConfig, []NetworkAttachment, error) {
	if s.NetworkMode != "" {
		if s.MacAddress != "" {
			return "", nil, nil, fmt.Errorf("mac_address needs a network, but network_mode is %q", s.NetworkMode)
		}
		return container.NetworkMode(s.NetworkMode), nil, nil, nil
	}
	if len(p.Networks) == 0 {
		return "none", nil, nil, nil
	}
	keys := s.NetworksByPriority()
	if len(keys) == 0 {
		keys = []string{"default"}
	}
	var (
		mode  container.NetworkMode
		first *network.NetworkingConfig
		extra []NetworkAttachment
	)
	for i, key := range keys {
		n, ok := p.Networks[key]
		if !ok {
			return "", nil, nil, fmt.Errorf("networks: undefined network %q", key)
		}
		ep, err := endpointSettings(s, key, name)
		if err != nil {
			return "", nil, nil, err
		}
		if i > 0 {
			extra = append(extra, NetworkAttachment{Network: n.Name, Endpoint: ep})
			continue
		}
		if err := applyServiceMAC(ep, s.MacAddress, key); err != nil {
			return "", nil, nil, err
		}
		mode = container.NetworkMode(n.Name)
		first = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{n.Name: ep}}
	}
	return mode, first, extra, nil
}

// applyServiceMAC moves the service-level mac_address to the primary
// endpoint, where engines since API 1.44 read it. Both may be set only to the
// same address.
func applyServiceMAC(ep *network.EndpointSettings, mac, key string) error {
	if mac == "" {
		return nil
	}
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("mac_address: %w", err)
	}
	if len(ep.MacAddress) > 0 && ep.MacAddress.String() != network.HardwareAddr(hw).String() {
		return fmt.Errorf("mac_address %s differs from networks.%s.mac_address %s", mac, key, ep.MacAddress)
	}
	ep.MacAddress = network.HardwareAddr(hw)
	return nil
}

func endpointSettings(s types.ServiceConfig, key, containerName string) (*network.EndpointSettings, error) {
	cfg := s.Networks[key]
	// compose gives every endpoint the container name and the service name
	// as DNS aliases, then the listed ones.
	ep := &network.EndpointSettings{Aliases: []string{containerName, s.Name}}
	if cfg == nil {
		return ep, nil
	}
	ep.Aliases = append(ep.Aliases, cfg.Aliases...)
	ep.GwPriority = cfg.GatewayPriority
	ipam, err := endpointIPAM(cfg, key)
	if err != nil {
		return nil, err
	}
	ep.IPAMConfig = ipam
	if cfg.MacAddress != "" {
		hw, err := net.ParseMAC(cfg.MacAddress)
		if err != nil {
			return nil, fmt.Errorf("networks.%s.mac_address: %w", key, err)
		}
		ep.MacAddress = network.HardwareAddr(hw)
	}
	if len(cfg.DriverOpts) > 0 || cfg.InterfaceName != "" {
		ep.DriverOpts = maps.Clone(map[string]string(cfg.DriverOpts))
		if ep.DriverOpts == nil {
			ep.DriverOpts = map[string]string{}
		}
		if cfg.InterfaceName != "" {
			ep.DriverOpts[ifnameDriverOpt] = cfg.InterfaceName
		}
	}
	return ep, nil
}

func endpointIPAM(cfg *types.ServiceNetworkConfig, key string) (*network.EndpointIPAMConfig, error) {
	if cfg.Ipv4Address == "" && cfg.Ipv6Address == "" && len(cfg.LinkLocalIPs) == 0 {
		return nil, nil
	}
	ipam := &network.EndpointIPAMConfig{}
	var err error
	if cfg.Ipv4Address != "" {
		if ipam.IPv4Address, err = netip.ParseAddr(cfg.Ipv4Address); err != nil {
			return nil, fmt.Errorf("networks.%s.ipv4_address: %q is not an IP address", key, cfg.Ipv4Address)
		}
	}
	if cfg.Ipv6Address != "" {
		if ipam.IPv6Address, err = netip.ParseAddr(cfg.Ipv6Address); err != nil {
			return nil, fmt.Errorf("networks.%s.ipv6_address: %q is not an IP address", key, cfg.Ipv6Address)
		}
	}
	if ipam.LinkLocalIPs, err = parseAddrs("networks."+key+".link_local_ips", cfg.LinkLocalIPs); err != nil {
		return nil, err
	}
	return ipam, nil
}

// NetworkCreateOptions converts the project network key into the engine's
// create options; the engine name to pass along is p.Networks[key].Name. The
// labels are the ones compose sets, config hash included, so that compose and
// berth each recognise the other's networks as unchanged.
func NetworkCreateOptions(p *types.Project, key string) (client.NetworkCreateOptions, error) {
	n, ok := p.Networks[key]
	if !ok {
		return client.NetworkCreateOptions{}, fmt.Errorf("network %q is not defined in project %q", key, p.Name)
	}
	if n.External {
		return client.NetworkCreateOptions{}, fmt.Errorf("network %q is external: berth does not create it", key)
	}
	hash, err := compose.NetworkHash(n)
	if err != nil {
		return client.NetworkCreateOptions{}, fmt.Errorf("network %q: %w", key, err)
	}
	ipam, err := networkIPAM(n.Ipam)
	if err != nil {
		return client.NetworkCreateOptions{}, fmt.Errorf("network %q: %w", key, err)
	}
	return client.NetworkCreateOptions{
		Driver:     n.Driver,
		EnableIPv4: n.EnableIPv4,
		EnableIPv6: n.EnableIPv6,
		IPAM:       ipam,
		Internal:   n.Internal,
		Attachable: n.Attachable,
		Options:    nonEmpty(n.DriverOpts),
		Labels: mergeLabels(n.Labels, map[string]string{
			compose.LabelProject:    p.Name,
			compose.LabelNetwork:    key,
			compose.LabelVersion:    compose.ComposeVersion,
			compose.LabelConfigHash: hash,
		}),
	}, nil
}

func networkIPAM(c types.IPAMConfig) (*network.IPAM, error) {
	if c.Driver == "" && len(c.Config) == 0 {
		return nil, nil
	}
	ipam := &network.IPAM{Driver: c.Driver}
	for _, pool := range c.Config {
		cfg, err := ipamPool(pool)
		if err != nil {
			return nil, err
		}
		ipam.Config = append(ipam.Config, cfg)
	}
	return ipam, nil
}

func ipamPool(pool *types.IPAMPool) (network.IPAMConfig, error) {
	var (
		cfg network.IPAMConfig
		err error
	)
	if pool == nil {
		return cfg, nil
	}
	if pool.Subnet != "" {
		if cfg.Subnet, err = netip.ParsePrefix(pool.Subnet); err != nil {
			return cfg, fmt.Errorf("ipam subnet: %w", err)
		}
	}
	if pool.IPRange != "" {
		if cfg.IPRange, err = netip.ParsePrefix(pool.IPRange); err != nil {
			return cfg, fmt.Errorf("ipam ip_range: %w", err)
		}
	}
	if pool.Gateway != "" {
		if cfg.Gateway, err = netip.ParseAddr(pool.Gateway); err != nil {
			return cfg, fmt.Errorf("ipam gateway: %w", err)
		}
	}
	for host, addr := range pool.AuxiliaryAddresses {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return cfg, fmt.Errorf("ipam aux_addresses %s: %w", host, err)
		}
		if cfg.AuxAddress == nil {
			cfg.AuxAddress = map[string]netip.Addr{}
		}
		cfg.AuxAddress[host] = a
	}
	return cfg, nil
}
