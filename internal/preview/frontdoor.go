package preview

// The front door's force-new inputs, from terraform-provider-aws's schemas (ForceNew: true): a target group
// attachment's group, target, port and zone (internal/service/elbv2/target_group_attachment.go), a
// certificate's names, key and validation method, a target group's port, protocol, VPC and target type, a load balancer's scheme
// and type, a listener's load balancer, a listener rule's listener, a record's zone and name. A target group's
// health check changes in place, and a rule's priority too (SetRulePriorities).
var frontDoorReplaceOn = map[string][]string{
	"aws:lb/targetGroupAttachment:TargetGroupAttachment": {"targetGroupArn", "targetId", "port",
		"availabilityZone"},
	"aws:acm/certificate:Certificate": {"domainName", "subjectAlternativeNames", "keyAlgorithm",
		"validationMethod"},
	"aws:acm/certificateValidation:CertificateValidation": {"certificateArn", "validationRecordFqdns"},
	"aws:lb/targetGroup:TargetGroup": {"name", "port", "protocol", "protocolVersion", "vpcId",
		"targetType"},
	"aws:lb/loadBalancer:LoadBalancer":               {"name", "internal", "loadBalancerType"},
	"aws:lb/listener:Listener":                       {"loadBalancerArn"},
	"aws:lb/listenerRule:ListenerRule":               {"listenerArn"},
	"aws:lb/listenerCertificate:ListenerCertificate": {"listenerArn", "certificateArn"},
	"aws:route53/record:Record":                      {"zoneId", "name"},
	"aws:s3/bucket:Bucket":                           {"bucket", "bucketPrefix"},
	// The access-log bucket's policy, public access block, ownership and encryption belong to one bucket each.
	"aws:s3/bucketPolicy:BucketPolicy":                                                       {"bucket"},
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":                                 {"bucket"},
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls":                                 {"bucket"},
	"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": {"bucket", "expectedBucketOwner"},
	// The fleet's: a launch template's and a group's name (internal/service/ec2/ec2_launch_template.go,
	// internal/service/autoscaling/group.go), a scaling policy's group and name (policy.go), a notification's
	// topic (notification.go). A launch template's content makes a new version, not a new template.
	"aws:ec2/launchTemplate:LaunchTemplate":     {"name", "namePrefix"},
	"aws:autoscaling/group:Group":               {"name", "namePrefix"},
	"aws:autoscaling/policy:Policy":             {"autoscalingGroupName", "name"},
	"aws:autoscaling/notification:Notification": {"topicArn"},
}

func init() {
	for typ, fields := range frontDoorReplaceOn {
		ReplaceOn[typ] = fields
	}
}
