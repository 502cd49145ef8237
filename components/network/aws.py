"""AWS network: VPC over several AZs, public/private/GPU subnets, NAT per tier, S3 endpoint, flow logs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.network.cidrs import carve_subnets
from components.network.tiers import Tier, tier_row


@dataclass(frozen=True)
class AwsNetworkArgs:
    cidr: str
    """VPC CIDR, e.g. '10.0.0.0/16' (validated by the spec: /16 to /20, private)."""
    az_count: int
    """AZs to span, 2 to 4."""
    tier: Tier
    """Bandwidth tier; decides NAT layout, endpoint, EFA security group, GPU subnet."""
    region: str
    flow_logs: bool = False
    """Send VPC flow logs to CloudWatch Logs (default off)."""
    flow_log_retention_days: int = 30
    retain_for_data: bool = False
    """Prod with retained data stores: the VPC and the subnet FSx for Lustre lives in are kept on
    `pulumi destroy` (retain_on_delete), so the destroy completes while the file system's network
    interfaces still use them (README, "Teardown")."""


class AwsNetwork(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    """The VPC's id."""
    private_subnet_ids: pulumi.Output[list[str]]
    """One private subnet per AZ."""
    gpu_subnet_ids: pulumi.Output[list[str]]
    """Where GPU groups launch: the single-AZ GPU subnet on `ultra`, else the private subnets."""
    efa_security_group_id: pulumi.Output[str] | None
    """Self-referencing all-traffic group for EFA (ultra tier only)."""
    node_security_group_id: pulumi.Output[str]
    """Security group for GPU nodes: no ingress from outside the VPC."""

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-infra:index:AwsNetwork", name, None, opts)
        row = tier_row(args.tier).aws
        plan = carve_subnets(args.cidr, args.az_count)
        child = pulumi.ResourceOptions(parent=self)

        azs = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        az_names = [azs.names[i] for i in range(args.az_count)]

        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_for_data)
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_hostnames=True,
                          enable_dns_support=True, tags={"Name": f"{name}-vpc"}, opts=kept)
        # The default security group of a new VPC allows all traffic between members;
        # adopting it with no rules empties it so nothing relies on it by accident.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)

        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id,
                                       routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}], opts=child)
        public_subnets = []
        for i, cidr in enumerate(plan.public):
            subnet = aws.ec2.Subnet(f"{name}-public-{i}", vpc_id=vpc.id, cidr_block=cidr,
                                    availability_zone=az_names[i], map_public_ip_on_launch=False,
                                    tags={"Name": f"{name}-public-{i}", "kubernetes.io/role/elb": "1"}, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{i}", subnet_id=subnet.id,
                                          route_table_id=public_rt.id, opts=child)
            public_subnets.append(subnet)

        nat_count = args.az_count if row.nat_per_az else 1
        nats = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", opts=child)
            nats.append(aws.ec2.NatGateway(f"{name}-nat-{i}", allocation_id=eip.id,
                                           subnet_id=public_subnets[i].id,
                                           opts=pulumi.ResourceOptions(parent=self, depends_on=[igw])))

        private_rts = []
        private_subnets = []
        for i, cidr in enumerate(plan.private):
            nat = nats[i if row.nat_per_az else 0]
            rt = aws.ec2.RouteTable(f"{name}-private-rt-{i}", vpc_id=vpc.id,
                                    routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}], opts=child)
            subnet = aws.ec2.Subnet(f"{name}-private-{i}", vpc_id=vpc.id, cidr_block=cidr,
                                    availability_zone=az_names[i],
                                    tags={"Name": f"{name}-private-{i}", "kubernetes.io/role/internal-elb": "1"},
                                    # Without a GPU subnet, FSx for Lustre lives in private-0.
                                    opts=kept if i == 0 and not row.single_az_gpu_subnet else child)
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}", subnet_id=subnet.id, route_table_id=rt.id, opts=child)
            private_rts.append(rt)
            private_subnets.append(subnet)

        gpu_subnets = private_subnets
        if row.single_az_gpu_subnet:
            gpu_subnet = aws.ec2.Subnet(f"{name}-gpu", vpc_id=vpc.id, cidr_block=plan.gpu,
                                        availability_zone=az_names[0], tags={"Name": f"{name}-gpu"}, opts=kept)
            aws.ec2.RouteTableAssociation(f"{name}-gpu", subnet_id=gpu_subnet.id,
                                          route_table_id=private_rts[0].id, opts=child)
            gpu_subnets = [gpu_subnet]

        if row.s3_gateway_endpoint:
            aws.ec2.VpcEndpoint(f"{name}-s3", vpc_id=vpc.id, vpc_endpoint_type="Gateway",
                                service_name=f"com.amazonaws.{args.region}.s3",
                                route_table_ids=[rt.id for rt in private_rts], opts=child)

        node_sg = aws.ec2.SecurityGroup(f"{name}-nodes", vpc_id=vpc.id,
                                        description="GPU nodes: ingress from the VPC only", opts=child)
        aws.vpc.SecurityGroupIngressRule(f"{name}-nodes-from-vpc", security_group_id=node_sg.id,
                                         ip_protocol="-1", cidr_ipv4=args.cidr,
                                         description="all traffic from inside the VPC", opts=child)
        aws.vpc.SecurityGroupEgressRule(f"{name}-nodes-egress", security_group_id=node_sg.id,
                                        ip_protocol="-1", cidr_ipv4="0.0.0.0/0",
                                        description="outbound through NAT (packages, registries, S3)", opts=child)

        efa_sg_id: pulumi.Output[str] | None = None
        if row.efa_security_group:
            efa_sg = aws.ec2.SecurityGroup(f"{name}-efa", vpc_id=vpc.id,
                                           description="EFA: all traffic to and from members of this group",
                                           opts=child)
            aws.vpc.SecurityGroupIngressRule(f"{name}-efa-in", security_group_id=efa_sg.id, ip_protocol="-1",
                                             referenced_security_group_id=efa_sg.id,
                                             description="EFA requires all traffic from itself", opts=child)
            aws.vpc.SecurityGroupEgressRule(f"{name}-efa-out", security_group_id=efa_sg.id, ip_protocol="-1",
                                            referenced_security_group_id=efa_sg.id,
                                            description="EFA requires all traffic to itself", opts=child)
            efa_sg_id = efa_sg.id

        if args.flow_logs:
            self._flow_logs(name, vpc, args.flow_log_retention_days)

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.gpu_subnet_ids = pulumi.Output.all(*[s.id for s in gpu_subnets])
        self.efa_security_group_id = efa_sg_id
        self.node_security_group_id = node_sg.id
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "private_subnet_ids": self.private_subnet_ids,
            "gpu_subnet_ids": self.gpu_subnet_ids,
        })

    def _flow_logs(self, name: str, vpc: aws.ec2.Vpc, retention_days: int) -> None:
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(f"{name}-flow-logs", retention_in_days=retention_days, opts=child)
        role = aws.iam.Role(f"{name}-flow-logs", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}}],
        }), opts=child)
        aws.iam.RolePolicy(f"{name}-flow-logs", role=role.id, policy=group.arn.apply(lambda arn: json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow",
                           "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                           "Resource": f"{arn}:*"}],
        })), opts=child)
        aws.ec2.FlowLog(f"{name}-flow-logs", vpc_id=vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
                        log_destination=group.arn, iam_role_arn=role.arn, opts=child)
