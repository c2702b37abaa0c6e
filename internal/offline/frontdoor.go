package offline

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The front door's data sources and computed fields: the hosted zone, the default VPC and its subnets, the
// regional Elastic Load Balancing account, and what AWS fills in for load balancers, target groups,
// certificates and records.

// elbAccounts are the regional Elastic Load Balancing accounts that write access logs in the regions opened
// before August 2022 (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html);
// the provider's elb.getServiceAccount knows the same table.
var elbAccounts = map[string]string{
	"us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
	"us-west-2": "797873946194", "eu-west-1": "156460612806", "eu-west-2": "652711504416",
	"eu-central-1": "054676820928", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
	"ap-northeast-1": "582318560864", "ap-south-1": "718504428378",
}

// zoneHeld reports whether the account holds a public hosted zone of that name. Without a list of zones the
// mocks cannot know, and assume the account holds every zone asked for (the offline preview says so).
func (m *Mocks) zoneHeld(name string) bool {
	if m.Zones == nil {
		return true
	}
	for _, z := range m.Zones {
		if strings.TrimSuffix(z, ".") == strings.TrimSuffix(name, ".") {
			return true
		}
	}
	return false
}

// frontDoorCall answers the front door's invokes the way the provider does, refusals included.
func (m *Mocks) frontDoorCall(args pulumi.MockCallArgs) (resource.PropertyMap, bool, error) {
	get := func(k string) string {
		if v, ok := args.Args[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	switch args.Token {
	case "aws:route53/getZone:getZone":
		name := strings.TrimSuffix(get("name"), ".")
		if !m.zoneHeld(name) {
			// terraform-provider-aws's data source reports a missing zone this way (tfresource.SingularDataSourceFindError).
			return nil, true, fmt.Errorf("no matching Route 53 Hosted Zone found")
		}
		id := "Z0" + strings.ToUpper(hash("zone", name)[:18])
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": id, "zoneId": id, "name": name, "privateZone": false,
			"arn":         "arn:aws:route53:::hostedzone/" + id,
			"nameServers": []any{"ns-1.awsdns-00.com", "ns-2.awsdns-00.net"},
		}), true, nil
	case "aws:ec2/getVpc:getVpc":
		id := "vpc-0" + hash("default-vpc", m.Region)[:16]
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": id, "default": true, "cidrBlock": "172.31.0.0/16",
			"arn": fmt.Sprintf("arn:aws:ec2:%s:%s:vpc/%s", m.Region, Account, id),
		}), true, nil
	case "aws:ec2/getSubnets:getSubnets":
		// A default VPC has one default subnet per Availability Zone; three, as in most regions.
		var ids []any
		for _, az := range []string{"a", "b", "c"} {
			ids = append(ids, "subnet-0"+hash("default-subnet", m.Region, az)[:16])
		}
		return resource.NewPropertyMapFromMap(map[string]any{"ids": ids, "id": m.Region}), true, nil
	case "aws:ec2/getSubnet:getSubnet":
		// The mocks place a subnet by the last hex digit of its id: 0, 3, 6, 9, c, f in zone a; 1, 4, 7, a, d in
		// b; the rest in c.
		id := get("id")
		if id == "" {
			return nil, true, fmt.Errorf("getSubnet: the mocks look subnets up by id only")
		}
		zone := string("abc"[strings.IndexByte("0123456789abcdef", id[len(id)-1])%3])
		return resource.NewPropertyMapFromMap(map[string]any{"id": id, "availabilityZone": m.Region + zone,
			"vpcId": "vpc-0123456789abcdef0"}), true, nil
	case "aws:elb/getServiceAccount:getServiceAccount":
		region := get("region")
		if region == "" {
			region = m.Region
		}
		account, ok := elbAccounts[region]
		if !ok {
			return nil, true, fmt.Errorf("unsupported AWS Region (%s)", region)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": account, "arn": "arn:aws:iam::" + account + ":root", "region": region,
		}), true, nil
	}
	return nil, false, nil
}

// frontDoorOutputs fills the computed fields of the front door's resources and returns their id, or "" for a
// type it does not know.
func (m *Mocks) frontDoorOutputs(typ, name, h string, out resource.PropertyMap) string {
	set, str, arn := state(out).set, state(out).str, m.arn
	switch typ {
	case "aws:lb/loadBalancer:LoadBalancer":
		id := arn("elasticloadbalancing", "loadbalancer/app/"+name+"/"+h[:16])
		set("arn", id)
		set("dnsName", fmt.Sprintf("%s-%s.%s.elb.amazonaws.com", name, h[:10], m.Region))
		// The region's canonical hosted zone of Application Load Balancers (ap-southeast-1's, as AWS lists it).
		set("zoneId", "Z1LMS91P8CMLE5")
		set("arnSuffix", "app/"+name+"/"+h[:16])
		return id
	case "aws:lb/targetGroup:TargetGroup":
		id := arn("elasticloadbalancing", "targetgroup/"+name+"/"+h[:16])
		set("arn", id)
		set("arnSuffix", "targetgroup/"+name+"/"+h[:16])
		return id
	case "aws:lb/listener:Listener":
		id := arn("elasticloadbalancing", "listener/app/"+name+"/"+h[:16])
		set("arn", id)
		return id
	case "aws:lb/listenerRule:ListenerRule":
		id := arn("elasticloadbalancing", "listener-rule/app/"+name+"/"+h[:16])
		set("arn", id)
		return id
	case "aws:lb/listenerCertificate:ListenerCertificate":
		return str("listenerArn") + "_" + str("certificateArn")
	case "aws:lb/targetGroupAttachment:TargetGroupAttachment":
		// The provider's id: the group's ARN, a dash and a unique suffix (id.PrefixedUniqueId).
		return str("targetGroupArn") + "-" + hash(h, str("targetId"))[:26]
	case "aws:acm/certificate:Certificate":
		id := arn("acm", "certificate/"+h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:32])
		set("arn", id)
		domain := str("domainName")
		set("domainValidationOptions", []any{map[string]any{
			"domainName":          domain,
			"resourceRecordName":  "_" + h[:32] + "." + domain + ".",
			"resourceRecordType":  "CNAME",
			"resourceRecordValue": "_" + h[32:64] + ".acm-validations.aws.",
		}})
		set("status", "ISSUED")
		return id
	case "aws:acm/certificateValidation:CertificateValidation":
		return str("certificateArn")
	case "aws:route53/record:Record":
		set("fqdn", strings.TrimSuffix(str("name"), "."))
		return str("zoneId") + "_" + strings.TrimSuffix(str("name"), ".") + "_" + str("type")
	case "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
		"aws:s3/bucketOwnershipControls:BucketOwnershipControls",
		"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
		"aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
		return str("bucket")
	}
	return ""
}

// frontDoorKeyProperties are what the tree shows of the front door's resources.
var frontDoorKeyProperties = map[string][]string{
	"aws:lb/loadBalancer:LoadBalancer": {"loadBalancerType", "internal", "idleTimeout", "dropInvalidHeaderFields",
		"enableDeletionProtection", "accessLogs.enabled"},
	"aws:lb/listener:Listener": {"protocol", "port", "sslPolicy", "defaultActions[0].type",
		"routingHttpResponseStrictTransportSecurityHeaderValue"},
	"aws:lb/listenerRule:ListenerRule":                       {"priority", "conditions[0].hostHeader.values[0]"},
	"aws:lb/targetGroup:TargetGroup":                         {"port", "protocol", "healthCheck.path", "deregistrationDelay"},
	"aws:lb/targetGroupAttachment:TargetGroupAttachment":     {"port"},
	"aws:acm/certificate:Certificate":                        {"domainName", "validationMethod"},
	"aws:route53/record:Record":                              {"name", "type"},
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": {"blockPublicAcls", "blockPublicPolicy"},
}

func init() {
	for typ, props := range frontDoorKeyProperties {
		keyProperties[typ] = props
	}
}
