import { Construct } from '../framework/core';
import { Eip, InternetGateway, NatGateway, RouteTable, RouteTableAssociation, SecurityGroup, Subnet, Vpc, VpcEndpoint } from '../framework/aws';

export interface NetworkProps {
  readonly name: string;
  readonly region: string;
  readonly cidr: string;
  readonly availabilityZones: readonly string[];
  readonly publicSubnetCidrs: readonly string[];
  readonly privateSubnetCidrs: readonly string[];
  readonly natPerAz: boolean;
  /** Interface endpoints for the AWS APIs the tasks call, so that traffic stays off the NAT. */
  readonly interfaceEndpoints: boolean;
}

/** What a worker task calls besides S3 (which has the free gateway endpoint). */
const INTERFACE_SERVICES = ['sqs', 'ecr.api', 'ecr.dkr', 'logs', 'monitoring'];

/** Private subnets for tasks (no public IPs), egress through NAT, and S3 traffic through a free gateway endpoint. */
export class Network extends Construct {
  readonly vpc: Vpc;
  readonly privateSubnets: Subnet[];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new Vpc(this, 'vpc', { cidrBlock: props.cidr, enableDnsSupport: true, enableDnsHostnames: true, tags: { Name: props.name } });
    const igw = new InternetGateway(this, 'igw', { vpcId: this.vpc.id });
    const publicRoutes = new RouteTable(this, 'public-routes', { vpcId: this.vpc.id, route: [{ cidrBlock: '0.0.0.0/0', gatewayId: igw.id }] });
    const publicSubnets = props.availabilityZones.map((az, i) => {
      const subnet = new Subnet(this, `public-${i}`, { vpcId: this.vpc.id, availabilityZone: az, cidrBlock: props.publicSubnetCidrs[i]!, tags: { Name: `${props.name}-public-${az}` } });
      new RouteTableAssociation(this, `public-${i}-routes`, { subnetId: subnet.id, routeTableId: publicRoutes.id });
      return subnet;
    });
    const nats = (props.natPerAz ? publicSubnets : publicSubnets.slice(0, 1)).map((subnet, i) => {
      const eip = new Eip(this, `nat-${i}-ip`, { domain: 'vpc' });
      return new NatGateway(this, `nat-${i}`, { subnetId: subnet.id, allocationId: eip.id });
    });
    const privateRouteTables: RouteTable[] = [];
    this.privateSubnets = props.availabilityZones.map((az, i) => {
      const subnet = new Subnet(this, `private-${i}`, { vpcId: this.vpc.id, availabilityZone: az, cidrBlock: props.privateSubnetCidrs[i]!, mapPublicIpOnLaunch: false, tags: { Name: `${props.name}-private-${az}` } });
      const routes = new RouteTable(this, `private-${i}-routes`, { vpcId: this.vpc.id, route: [{ cidrBlock: '0.0.0.0/0', natGatewayId: nats[props.natPerAz ? i : 0]!.id }] });
      new RouteTableAssociation(this, `private-${i}-association`, { subnetId: subnet.id, routeTableId: routes.id });
      privateRouteTables.push(routes);
      return subnet;
    });
    new VpcEndpoint(this, 's3-endpoint', {
      vpcId: this.vpc.id, serviceName: `com.amazonaws.${props.region}.s3`, vpcEndpointType: 'Gateway', routeTableIds: privateRouteTables.map((table) => table.id),
    });
    if (props.interfaceEndpoints) this.addInterfaceEndpoints(props);
  }

  private addInterfaceEndpoints(props: NetworkProps): void {
    const endpoints = new SecurityGroup(this, 'endpoints', {
      name: `${props.name}-endpoints`, description: 'Interface endpoints: HTTPS from inside the VPC only', vpcId: this.vpc.id,
      ingress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: [props.cidr], description: 'HTTPS from the VPC' }],
    });
    for (const service of INTERFACE_SERVICES) {
      new VpcEndpoint(this, `${service.replace('.', '-')}-endpoint`, {
        vpcId: this.vpc.id, serviceName: `com.amazonaws.${props.region}.${service}`, vpcEndpointType: 'Interface', privateDnsEnabled: true,
        subnetIds: this.privateSubnets.map((subnet) => subnet.id), securityGroupIds: [endpoints.id],
      });
    }
  }
}
