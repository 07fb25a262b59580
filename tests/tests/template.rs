//! The template as a platform team would review it, as tests: template.yaml, transformed
//! offline by aws-sam-translator (scripts/sam-transform.py) and resolved for a set of
//! parameters, gives each function a role that allows exactly what the function calls, on
//! exactly its resources (docs/deploy.md's IAM table lists the same actions); S3 events
//! that fail land in a queue; the network is scoped by the template's own security
//! groups; no password is in any function's configuration; parameters that cannot work are
//! refused before anything is created; Managed Instances are sized and decrypt-env separated.
//! No AWS account: this reads the template, and creates what moto can of the stack.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use e2e::{workspace_root, Services};
use serde_json::{json, Value};

/// What every deployment must give (the template has no default for these).
const BASE: [&str; 4] = [
    "ObjectsBucketName=objects-bucket",
    "VpcId=vpc-0123456789abcdef0",
    "SubnetIds=subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "DatabaseSecurityGroupId=sg-0123456789abcdef0",
];
/// DatabaseTarget=rds-proxy (the default) with ProxyAuthScheme=secrets (the default).
const PROXY: [&str; 2] = [
    "DatabaseClusterId=app-cluster",
    "DatabaseSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
];
const DIRECT: [&str; 4] = [
    "DatabaseTarget=direct",
    "DatabaseHost=db.example.internal",
    "DatabaseResourceId=db-ABCDEFGHIJKLMNOPQRSTUVWXY0",
    "DatabaseCaLayerArn=arn:aws:lambda:us-east-1:123456789012:layer:rds-ca:1",
];
const MANAGED: [&str; 2] = [
    "ComputeModel=managed-instances",
    "VpcEndpointsSecurityGroupId=sg-0123456789abcdef1",
];

fn transform(params: &[&str]) -> Output {
    Command::new("python3")
        .arg(workspace_root().join("scripts/sam-transform.py"))
        .arg("--resolve")
        .args(BASE)
        .args(params)
        .output()
        .expect("python3")
}

/// The template as CloudFormation would create it for BASE and `params`.
fn resolved(params: &[&str]) -> Value {
    let out = transform(params);
    assert!(
        out.status.success(),
        "sam-transform.py failed (make e2e installs aws-sam-translator):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Why CloudFormation would refuse BASE and `params` before creating anything.
fn refused(params: &[&str]) -> String {
    let out = transform(params);
    assert_eq!(out.status.code(), Some(2), "{params:?} accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One Allow statement, normalised: (actions, resource, condition).
type Grant = (BTreeSet<String>, Value, Value);

fn strings(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn get_att(resource: &str, attribute: &str) -> Value {
    json!({"Fn::GetAtt": [resource, attribute]})
}

/// Everything the role may do: the statements of its inline policies (no managed policies,
/// Allow only), and those of a KMS key's policy that name the role as principal (their
/// resource, "*" in a key policy, is that key).
fn grants(template: &Value, role: &str) -> Vec<Grant> {
    let resources = template["Resources"].as_object().unwrap();
    let props = &resources[role]["Properties"];
    assert!(props.is_object(), "no role {role}");
    assert!(
        props.get("ManagedPolicyArns").is_none(),
        "{role} has managed policies: {}",
        props["ManagedPolicyArns"]
    );
    let mut grants = Vec::new();
    for policy in props["Policies"].as_array().unwrap() {
        for s in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            assert_eq!(s["Effect"], "Allow", "{role}: {s}");
            grants.push((
                strings(&s["Action"]),
                s["Resource"].clone(),
                s.get("Condition").cloned().unwrap_or(Value::Null),
            ));
        }
    }
    for (name, r) in resources {
        if r["Type"] != "AWS::KMS::Key" {
            continue;
        }
        for s in r["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .unwrap()
        {
            if s["Principal"]["AWS"] == get_att(role, "Arn") {
                assert_eq!(
                    (&s["Effect"], &s["Resource"]),
                    (&json!("Allow"), &json!("*"))
                );
                grants.push((
                    strings(&s["Action"]),
                    get_att(name, "Arn"),
                    s.get("Condition").cloned().unwrap_or(Value::Null),
                ));
            }
        }
    }
    grants
}

fn actions(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn logs(group: &str) -> Grant {
    (
        actions(&["logs:CreateLogStream", "logs:PutLogEvents"]),
        get_att(group, "Arn"),
        Value::Null,
    )
}

/// The X-Ray writes of `Tracing: Active`, which take no resource ARN.
const XRAY: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

fn xray() -> Grant {
    (actions(&XRAY), json!("*"), Value::Null)
}

/// The EC2 actions of AWSLambdaVPCAccessExecutionRole (v3), which take no resource ARN.
const VPC_ENI: [&str; 6] = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
];

fn eni() -> Grant {
    (actions(&VPC_ENI), json!("*"), Value::Null)
}

fn rds_db_connect_to_the_proxy() -> Grant {
    (
        actions(&["rds-db:connect"]),
        json!({"Fn::Sub": [
            "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ProxyId}/${DatabaseUser}",
            {"ProxyId": {"Fn::Select": [6, {"Fn::Split": [":", get_att("DatabaseProxy", "DBProxyArn")]}]}}
        ]}),
        Value::Null,
    )
}

/// On the database's (or, end to end, the proxy's) resource id, as the user.
fn rds_db_connect_to_the_resource_id() -> Grant {
    (
        actions(&["rds-db:connect"]),
        json!({"Fn::Sub": "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${DatabaseResourceId}/${DatabaseUser}"}),
        Value::Null,
    )
}

fn decrypt_under_the_function_name(function: &str) -> Grant {
    (
        actions(&["kms:Decrypt"]),
        get_att("SecretKey", "Arn"),
        json!({"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": {"Ref": function}}}),
    )
}

fn assert_grants(template: &Value, role: &str, mut want: Vec<Grant>) {
    let mut have = grants(template, role);
    let key = |g: &Grant| format!("{:?}", g);
    have.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(have, want, "{role}");
}

/// No wildcard action anywhere, and "*" as a resource only for the two documented cases:
/// X-Ray's writes and the ENI actions.
fn assert_no_wildcards(template: &Value, role: &str) {
    for (actions, resource, _) in grants(template, role) {
        for action in &actions {
            assert!(!action.contains('*'), "{role}: wildcard action {action}");
        }
        if resource == "*" {
            let all_in = |list: &[&str]| actions.iter().all(|a| list.contains(&a.as_str()));
            assert!(
                all_in(&XRAY) || all_in(&VPC_ENI),
                "{role}: {actions:?} on *"
            );
        }
    }
}

fn function_role(template: &Value, function: &str) -> String {
    let role = &template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0];
    role.as_str()
        .unwrap_or_else(|| panic!("{function} has no role of its own"))
        .to_string()
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The resolved template's functions, with their roles.
const CLASSIC: [(&str, &str); 4] = [
    ("RdsEnrichFunction", "RdsEnrichRole"),
    ("RdsEnrichNaiveFunction", "RdsEnrichNaiveRole"),
    ("S3GetObjectFunction", "S3GetObjectRole"),
    ("DecryptEnvFunction", "DecryptEnvRole"),
];
const ON_MANAGED_INSTANCES: [(&str, &str); 4] = [
    ("RdsEnrichManagedFunction", "RdsEnrichRole"),
    ("RdsEnrichNaiveManagedFunction", "RdsEnrichNaiveRole"),
    ("S3GetObjectManagedFunction", "S3GetObjectRole"),
    ("DecryptEnvManagedFunction", "DecryptEnvRole"),
];

#[test]
fn classic_with_rds_proxy_each_role_allows_exactly_what_its_function_calls() {
    let t = resolved(&[&PROXY[..], &["DeployNaive=true"]].concat());
    for (function, role) in CLASSIC {
        assert_eq!(function_role(&t, function), role);
        assert_no_wildcards(&t, role);
    }
    let database = vec![xray(), rds_db_connect_to_the_proxy(), eni()];
    assert_grants(
        &t,
        "RdsEnrichRole",
        [vec![logs("RdsEnrichLogs")], database.clone()].concat(),
    );
    assert_grants(
        &t,
        "RdsEnrichNaiveRole",
        [vec![logs("RdsEnrichNaiveLogs")], database].concat(),
    );
    assert_grants(
        &t,
        "S3GetObjectRole",
        vec![
            logs("S3GetObjectLogs"),
            xray(),
            (
                actions(&["s3:GetObject", "s3:GetObjectVersion"]),
                json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${ObjectsBucketName}/*"}),
                Value::Null,
            ),
            (
                actions(&["sqs:SendMessage"]),
                get_att("FailedEventsQueue", "Arn"),
                Value::Null,
            ),
        ],
    );
    assert_grants(
        &t,
        "DecryptEnvRole",
        vec![
            logs("DecryptEnvLogs"),
            xray(),
            decrypt_under_the_function_name("DecryptEnvFunction"),
        ],
    );
}

/// Issue #20: every function traced, with the X-Ray writes in its role (SAM adds no policy
/// for `Tracing` to an explicit role), on both compute models.
#[test]
fn every_function_is_traced_and_may_write_its_traces() {
    for (params, functions) in [
        ([&PROXY[..], &["DeployNaive=true"]].concat(), CLASSIC),
        (
            [&PROXY[..], &MANAGED[..], &["DeployNaive=true"]].concat(),
            ON_MANAGED_INSTANCES,
        ),
    ] {
        let t = resolved(&params);
        for (function, role) in functions {
            let p = &t["Resources"][function]["Properties"];
            assert_eq!(p["TracingConfig"], json!({"Mode": "Active"}), "{function}");
            assert!(grants(&t, role).contains(&xray()), "{role}");
        }
    }
}

#[test]
fn classic_with_rds_proxy_the_functions_are_configured_as_the_docs_say() {
    let t = resolved(&PROXY);
    let r = &t["Resources"];
    for (function, zip) in [
        ("RdsEnrichFunction", "rds-enrich"),
        ("S3GetObjectFunction", "s3-get-object"),
        ("DecryptEnvFunction", "decrypt-env"),
    ] {
        let p = &r[function]["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023", "{function}");
        assert_eq!(p["Handler"], "bootstrap", "{function}");
        assert_eq!(p["Code"]["S3Key"], format!("{zip}.zip"), "{function}");
        assert_eq!(p["LoggingConfig"]["LogFormat"], "JSON", "{function}");
        let group = p["LoggingConfig"]["LogGroup"]["Ref"].as_str().unwrap();
        assert_eq!(
            r[group]["Properties"]["LogGroupName"],
            json!({"Fn::Sub": format!("/aws/lambda/${{AWS::StackName}}/{zip}")}),
            "{group}"
        );
        assert!(
            r[group]["Properties"]["RetentionInDays"].is_object(),
            "{group}"
        );
    }
    assert!(
        r.get("RdsEnrichNaiveFunction").is_none(),
        "naive is off by default"
    );
    let rds = &r["RdsEnrichFunction"]["Properties"];
    assert_eq!(
        rds["ReservedConcurrentExecutions"],
        json!({"Ref": "ReservedConcurrency"})
    );
    let env = &rds["Environment"]["Variables"];
    assert_eq!(env["DATABASE_IAM_AUTH"], "true");
    assert_eq!(env["DB_MAX_CONNECTIONS"], "1", "the classic budget");
    let url = env["DATABASE_URL"]["Fn::Sub"].as_str().unwrap();
    assert_eq!(
        url,
        "mysql://${DatabaseUser}@${DatabaseProxy.Endpoint}:3306/${DatabaseName}?require_ssl=true",
        "no password, TLS required"
    );
    assert!(
        env.get("DATABASE_CA_FILE").is_none(),
        "the proxy's certificate is public"
    );
    let proxy = &r["DatabaseProxy"]["Properties"];
    assert_eq!(proxy["RequireTLS"], true);
    assert_eq!(
        proxy["Auth"],
        json!([{"AuthScheme": "SECRETS", "IAMAuth": "REQUIRED", "SecretArn": {"Ref": "DatabaseSecretArn"}}])
    );
    assert!(proxy.get("DefaultAuthScheme").is_none());
    assert_eq!(
        proxy["IdleClientTimeout"],
        json!({"Ref": "ProxyIdleClientTimeout"})
    );
    assert_eq!(
        r["DatabaseProxyTargets"]["Properties"]["ConnectionPoolConfigurationInfo"],
        json!({"MaxConnectionsPercent": {"Ref": "ProxyMaxConnectionsPercent"}})
    );
}

/// Issue #21, item 1: a failed S3 event is kept, not dropped after Lambda's retries.
#[test]
fn s3_events_that_fail_land_in_an_encrypted_queue() {
    for (params, function) in [
        (PROXY.to_vec(), "S3GetObjectFunction"),
        (
            [&PROXY[..], &MANAGED[..]].concat(),
            "S3GetObjectManagedFunction",
        ),
    ] {
        let t = resolved(
            &[
                &params[..],
                &["EventMaxRetries=1", "EventMaxAgeSeconds=900"],
            ]
            .concat(),
        );
        let r = &t["Resources"];
        let configs = of_type(&t, "AWS::Lambda::EventInvokeConfig");
        assert_eq!(configs.len(), 1, "{function}");
        let p = &configs[0].1["Properties"];
        assert_eq!(p["FunctionName"], json!({"Ref": function}));
        let qualifier = if function.contains("Managed") {
            json!("live")
        } else {
            json!("$LATEST")
        };
        assert_eq!(p["Qualifier"], qualifier, "{function}");
        // SAM resolves these from the parameters (as strings, which CloudFormation takes).
        assert_eq!(p["MaximumRetryAttempts"], "1", "from the parameter");
        assert_eq!(p["MaximumEventAgeInSeconds"], "900", "from the parameter");
        assert_eq!(
            p["DestinationConfig"],
            json!({"OnFailure": {"Destination": get_att("FailedEventsQueue", "Arn")}})
        );
        let queue = &r["FailedEventsQueue"]["Properties"];
        assert_eq!(queue["SqsManagedSseEnabled"], true);
        assert_eq!(
            queue["MessageRetentionPeriod"],
            json!({"Ref": "FailedEventsRetentionSeconds"})
        );
        assert_denies_without_tls(
            &r["FailedEventsQueuePolicy"]["Properties"]["PolicyDocument"],
            &get_att("FailedEventsQueue", "Arn"),
        );
        // Only s3-get-object may send to it.
        for role in ["RdsEnrichRole", "DecryptEnvRole"] {
            assert!(
                grants(&t, role)
                    .iter()
                    .all(|g| !g.0.contains("sqs:SendMessage")),
                "{role}"
            );
        }
    }
}

fn assert_denies_without_tls(policy: &Value, resource: &Value) {
    let statements = policy["Statement"].as_array().unwrap();
    assert!(
        statements.iter().any(|s| s["Effect"] == "Deny"
            && s["Principal"] == "*"
            && s["Condition"] == json!({"Bool": {"aws:SecureTransport": "false"}})
            && (s["Resource"] == *resource
                || s["Resource"]
                    .as_array()
                    .is_some_and(|r| r.contains(resource)))),
        "{policy}"
    );
}

/// Every rule of every security group the template creates or adds.
fn security_rules(template: &Value) -> Vec<(String, &'static str, Value)> {
    let mut rules = Vec::new();
    for (name, r) in of_type(template, "AWS::EC2::SecurityGroup") {
        for (direction, key) in [
            ("ingress", "SecurityGroupIngress"),
            ("egress", "SecurityGroupEgress"),
        ] {
            for rule in r["Properties"][key].as_array().into_iter().flatten() {
                rules.push((name.clone(), direction, rule.clone()));
            }
        }
    }
    for (name, r) in of_type(template, "AWS::EC2::SecurityGroupIngress") {
        rules.push((name.clone(), "ingress", r["Properties"].clone()));
    }
    rules
}

fn egress(template: &Value, group: &str) -> Vec<Value> {
    let g = &template["Resources"][group]["Properties"];
    let rules = g["SecurityGroupEgress"].as_array().cloned();
    rules.unwrap_or_else(|| panic!("{group} keeps EC2's default allow-all egress"))
}

fn tcp(port: Value, to: (&str, Value)) -> Value {
    let mut rule = json!({"IpProtocol": "tcp", "FromPort": port, "ToPort": port});
    rule[to.0] = to.1;
    rule
}

fn without_descriptions(rules: Vec<Value>) -> Vec<Value> {
    rules
        .into_iter()
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("Description");
            r
        })
        .collect()
}

fn sg(name: &str) -> Value {
    json!({"Ref": name})
}

/// Issue #21, item 2: the template's own groups, each allowing exactly one path.
#[test]
fn the_network_is_scoped_by_the_templates_own_security_groups() {
    let classic_proxy = resolved(&PROXY);
    let classic_direct = resolved(&DIRECT);
    let managed = resolved(
        &[
            &PROXY[..],
            &MANAGED[..],
            &["S3PrefixListId=pl-0123456789abcdef0"],
        ]
        .concat(),
    );
    for t in [&classic_proxy, &classic_direct, &managed] {
        for (group, direction, rule) in security_rules(t) {
            let open = ["0.0.0.0/0", "::/0"];
            for key in ["CidrIp", "CidrIpv6"] {
                assert!(
                    !rule[key].as_str().is_some_and(|c| open.contains(&c)),
                    "{group} {direction}: {rule}"
                );
            }
            assert_eq!(rule["IpProtocol"], "tcp", "{group} {direction}: {rule}");
        }
        // The function (or its instances) in the template's group, not the caller's.
        let rds = if t["Resources"].get("RdsEnrichFunction").is_some() {
            &t["Resources"]["RdsEnrichFunction"]["Properties"]["VpcConfig"]
        } else {
            &t["Resources"]["AppCapacityProvider"]["Properties"]["VpcConfig"]
        };
        assert_eq!(rds["SecurityGroupIds"], json!([sg("AppSecurityGroup")]));
        assert!(
            t["Resources"]["AppSecurityGroup"]["Properties"]
                .get("SecurityGroupIngress")
                .is_none(),
            "nothing comes in"
        );
    }

    // rds-enrich -> proxy -> database, on MySQL only; the IAM token is signed locally.
    let r = &classic_proxy["Resources"];
    assert_eq!(
        without_descriptions(egress(&classic_proxy, "AppSecurityGroup")),
        vec![tcp(
            json!(3306),
            ("DestinationSecurityGroupId", sg("ProxySecurityGroup"))
        )]
    );
    assert_eq!(
        without_descriptions(egress(&classic_proxy, "ProxySecurityGroup")),
        vec![tcp(
            json!({"Ref": "DatabasePort"}),
            ("DestinationSecurityGroupId", sg("DatabaseSecurityGroupId"))
        )]
    );
    assert_eq!(
        r["DatabaseProxy"]["Properties"]["VpcSecurityGroupIds"],
        json!([sg("ProxySecurityGroup")])
    );
    let ingress = |t: &Value, name: &str| {
        let mut p = t["Resources"][name]["Properties"].clone();
        p.as_object_mut().unwrap().remove("Description");
        p
    };
    let mut from_app = tcp(
        json!(3306),
        ("SourceSecurityGroupId", sg("AppSecurityGroup")),
    );
    from_app["GroupId"] = sg("ProxySecurityGroup");
    assert_eq!(ingress(&classic_proxy, "ProxyIngressFromApp"), from_app);
    let mut to_database = tcp(
        json!({"Ref": "DatabasePort"}),
        ("SourceSecurityGroupId", sg("ProxySecurityGroup")),
    );
    to_database["GroupId"] = sg("DatabaseSecurityGroupId");
    assert_eq!(ingress(&classic_proxy, "DatabaseIngress"), to_database);

    // Direct: rds-enrich -> database, nothing else.
    assert_eq!(
        without_descriptions(egress(&classic_direct, "AppSecurityGroup")),
        vec![tcp(
            json!({"Ref": "DatabasePort"}),
            ("DestinationSecurityGroupId", sg("DatabaseSecurityGroupId"))
        )]
    );
    to_database["SourceSecurityGroupId"] = sg("AppSecurityGroup");
    assert_eq!(ingress(&classic_direct, "DatabaseIngress"), to_database);
    assert!(classic_direct["Resources"]
        .get("ProxySecurityGroup")
        .is_none());

    // Managed Instances: the instances reach AWS through the VPC endpoints, no NAT.
    let https = |to| tcp(json!(443), to);
    assert_eq!(
        without_descriptions(egress(&managed, "AppSecurityGroup")),
        vec![
            tcp(
                json!(3306),
                ("DestinationSecurityGroupId", sg("ProxySecurityGroup"))
            ),
            https((
                "DestinationSecurityGroupId",
                sg("VpcEndpointsSecurityGroupId")
            )),
            https(("DestinationPrefixListId", sg("S3PrefixListId"))),
        ]
    );
    assert_eq!(
        without_descriptions(egress(&managed, "SecretSecurityGroup")),
        vec![https((
            "DestinationSecurityGroupId",
            sg("VpcEndpointsSecurityGroupId")
        ))]
    );
    assert_eq!(
        managed["Resources"]["SecretCapacityProvider"]["Properties"]["VpcConfig"]
            ["SecurityGroupIds"],
        json!([sg("SecretSecurityGroup")])
    );
    for (name, from) in [
        ("EndpointsIngressFromApp", "AppSecurityGroup"),
        ("EndpointsIngressFromSecret", "SecretSecurityGroup"),
    ] {
        let mut want = https(("SourceSecurityGroupId", sg(from)));
        want["GroupId"] = sg("VpcEndpointsSecurityGroupId");
        assert_eq!(ingress(&managed, name), want);
    }
}

/// EC2's own limits on descriptions, which neither cfn-lint nor moto checks: a group's
/// description is `a-zA-Z0-9`, spaces and `._-:/()#,@[]+=&;{}!$*`, a rule's the same
/// without `&`, at most 255 characters each (EC2 API reference, CreateSecurityGroup and
/// IpPermission/UserIdGroupPair). One character outside them fails the real deployment.
#[test]
fn security_group_descriptions_are_what_ec2_accepts_for_any_stack_name() {
    let longest_stack_name = "s".repeat(128);
    let text = |description: &Value| -> String {
        let raw = description
            .as_str()
            .or_else(|| description["Fn::Sub"].as_str())
            .unwrap_or_else(|| panic!("description {description}"));
        raw.replace("${AWS::StackName}", &longest_stack_name)
    };
    let check = |what: &str, s: &str, extra: &str| {
        let allowed = |c: char| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=;{}!$*".contains(c);
        assert!(
            s.len() <= 255 && s.chars().all(|c| allowed(c) || extra.contains(c)),
            "{what}: EC2 refuses {s:?}"
        );
    };
    for params in [
        PROXY.to_vec(),
        DIRECT.to_vec(),
        [
            &PROXY[..],
            &MANAGED[..],
            &["S3PrefixListId=pl-0123456789abcdef0"],
        ]
        .concat(),
        [&DIRECT[..], &MANAGED[..]].concat(),
    ] {
        let t = resolved(&params);
        for (name, g) in of_type(&t, "AWS::EC2::SecurityGroup") {
            check(name, &text(&g["Properties"]["GroupDescription"]), "&");
        }
        for (group, direction, rule) in security_rules(&t) {
            if let Some(description) = rule.get("Description") {
                check(&format!("{group} {direction}"), &text(description), "");
            }
        }
    }
}

/// Issue #21, item 3: in every mode, no password in any function's configuration and TLS
/// required; the proxy's own login as narrow as its scheme allows.
#[test]
fn no_password_in_any_configuration_and_tls_everywhere() {
    let sets = [
        PROXY.to_vec(),
        DIRECT.to_vec(),
        [&PROXY[..], &MANAGED[..]].concat(),
        [&DIRECT[..], &MANAGED[..]].concat(),
    ];
    for params in &sets {
        let t = resolved(&[&params[..], &["DeployNaive=true"]].concat());
        for (_, f) in of_type(&t, "AWS::Lambda::Function") {
            let env = &f["Properties"]["Environment"]["Variables"];
            assert!(
                env.get("DATABASE_ALLOW_PLAINTEXT").is_none(),
                "{params:?}: {env}"
            );
            let Some(url) = env.get("DATABASE_URL") else {
                continue;
            };
            let url = url["Fn::Sub"].as_str().unwrap();
            let userinfo = url
                .strip_prefix("mysql://")
                .and_then(|rest| rest.split_once('@'))
                .map(|(user, _)| user);
            assert_eq!(userinfo, Some("${DatabaseUser}"), "{url}: a password?");
            assert!(url.ends_with("?require_ssl=true"), "{url}");
            assert_eq!(env["DATABASE_IAM_AUTH"], "true", "{params:?}");
        }
        // No parameter can carry a password any more.
        for name in t["Parameters"].as_object().unwrap().keys() {
            assert!(!name.to_lowercase().contains("password"), "{name}");
            assert_ne!(name, "DatabaseUrl");
        }
    }

    // Direct: the database's own CA, and rds-db:connect on its resource id.
    let t = resolved(&DIRECT);
    let rds = &t["Resources"]["RdsEnrichFunction"]["Properties"];
    assert_eq!(
        rds["Environment"]["Variables"]["DATABASE_URL"],
        json!({"Fn::Sub": "mysql://${DatabaseUser}@${DatabaseHost}:${DatabasePort}/${DatabaseName}?require_ssl=true"})
    );
    assert_eq!(
        rds["Environment"]["Variables"]["DATABASE_CA_FILE"],
        json!({"Ref": "DatabaseCaFile"})
    );
    assert_eq!(rds["Layers"], json!([{"Ref": "DatabaseCaLayerArn"}]));
    assert!(t["Resources"].get("DatabaseProxy").is_none());
    assert_grants(
        &t,
        "RdsEnrichRole",
        vec![
            logs("RdsEnrichLogs"),
            xray(),
            rds_db_connect_to_the_resource_id(),
            eni(),
        ],
    );

    // The proxy's role: assumed by RDS for this account's proxies only; the secret, and
    // its customer key through Secrets Manager only.
    let t = resolved(
        &[
            &PROXY[..],
            &["DatabaseSecretKeyArn=arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"],
        ]
        .concat(),
    );
    let trust = &t["Resources"]["ProxyRole"]["Properties"]["AssumeRolePolicyDocument"];
    assert_eq!(
        trust["Statement"],
        json!([{
            "Effect": "Allow",
            "Principal": {"Service": "rds.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEqualsIfExists": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnLikeIfExists": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db-proxy:*"}}
            }
        }])
    );
    assert_grants(
        &t,
        "ProxyRole",
        vec![
            (
                actions(&["secretsmanager:GetSecretValue"]),
                json!({"Ref": "DatabaseSecretArn"}),
                Value::Null,
            ),
            (
                actions(&["kms:Decrypt"]),
                json!({"Ref": "DatabaseSecretKeyArn"}),
                json!({"StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}}),
            ),
        ],
    );
    // Without a customer key (aws/secretsmanager), the secret alone.
    assert_grants(
        &resolved(&PROXY),
        "ProxyRole",
        vec![(
            actions(&["secretsmanager:GetSecretValue"]),
            json!({"Ref": "DatabaseSecretArn"}),
            Value::Null,
        )],
    );

    // End-to-end IAM: no secret anywhere; the proxy logs in with its role's token.
    let t = resolved(&[
        "DatabaseClusterId=app-cluster",
        "ProxyAuthScheme=iam",
        "DatabaseResourceId=cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0",
    ]);
    let proxy = &t["Resources"]["DatabaseProxy"]["Properties"];
    assert_eq!(proxy["DefaultAuthScheme"], "IAM_AUTH");
    assert!(proxy.get("Auth").is_none(), "{proxy}");
    assert_grants(&t, "ProxyRole", vec![rds_db_connect_to_the_resource_id()]);
}

/// Issue #21, item 4: what cannot work is refused before anything is created, and every
/// name fits its limit whatever the stack's name (at most 128 characters).
#[test]
fn parameters_that_cannot_work_are_refused() {
    for (params, why) in [
        (vec![], "rds-proxy needs DatabaseClusterId"),
        (
            vec!["DatabaseClusterId=app-cluster"],
            "ProxyAuthScheme secrets needs DatabaseSecretArn",
        ),
        (
            vec!["DatabaseClusterId=app-cluster", "ProxyAuthScheme=iam"],
            "ProxyAuthScheme iam needs DatabaseResourceId",
        ),
        (vec!["DatabaseTarget=direct"], "direct needs DatabaseHost"),
        (DIRECT[..3].to_vec(), "direct needs DatabaseCaLayerArn"),
        (
            vec![DIRECT[0], DIRECT[1], DIRECT[3]],
            "direct needs DatabaseResourceId",
        ),
        (
            [&PROXY[..], &MANAGED[..1]].concat(),
            "managed-instances needs VpcEndpointsSecurityGroupId",
        ),
        (
            vec![
                "DatabaseClusterId=app-cluster",
                "DatabaseSecretArn=secret-name",
            ],
            "DatabaseSecretArn='secret-name' does not match",
        ),
        (
            [&DIRECT[..3], &["DatabaseCaLayerArn=rds-ca"]].concat(),
            "DatabaseCaLayerArn='rds-ca' does not match",
        ),
        (
            [&PROXY[..], &["ConnectionsPerEnvironment=0"]].concat(),
            "ConnectionsPerEnvironment=0 is below 1",
        ),
    ] {
        let err = refused(&params);
        assert!(err.contains(why), "{params:?}: {err}");
    }
    // And what does work is accepted (the sets the other tests use), with ids and ARNs of
    // every form AWS issues: other partitions, a multi-Region key (mrk-...), 8-digit ids.
    for params in [
        PROXY.to_vec(),
        DIRECT.to_vec(),
        [&PROXY[..], &MANAGED[..]].concat(),
        vec![
            "DatabaseClusterId=App-Cluster-1",
            "DatabaseSecretArn=arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:rds/app-AbCdEf",
            "DatabaseSecretKeyArn=arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef",
            "ComputeModel=managed-instances",
            "VpcEndpointsSecurityGroupId=sg-01234567",
            "S3PrefixListId=pl-63a5400a",
        ],
        vec![
            "DatabaseTarget=direct",
            "DatabaseHost=app.cluster-c0ffee0c0ffe.cn-north-1.rds.amazonaws.com.cn",
            "DatabaseResourceId=cluster-ABCDEFGHIJKL01234",
            "DatabaseCaLayerArn=arn:aws-cn:lambda:cn-north-1:123456789012:layer:rds-ca:3",
        ],
    ] {
        let out = transform(&params);
        assert!(
            out.status.success(),
            "{params:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    for params in [
        [&PROXY[..], &["DeployNaive=true"]].concat(),
        [&PROXY[..], &MANAGED[..], &["DeployNaive=true"]].concat(),
    ] {
        let t = resolved(&params);
        // CloudFormation names the functions, queue and capacity providers (the stack
        // name cut to fit, plus a suffix); the Outputs say the names.
        for (name, f) in of_type(&t, "AWS::Lambda::Function") {
            assert!(f["Properties"].get("FunctionName").is_none(), "{name}");
        }
        for (name, q) in of_type(&t, "AWS::SQS::Queue") {
            assert!(q["Properties"].get("QueueName").is_none(), "{name}");
        }
        for (name, c) in of_type(&t, "AWS::Lambda::CapacityProvider") {
            assert!(
                c["Properties"].get("CapacityProviderName").is_none(),
                "{name}"
            );
        }
        // Log groups: 12 + 128 + 17 characters at most, of 512.
        for (name, g) in of_type(&t, "AWS::Logs::LogGroup") {
            let sub = g["Properties"]["LogGroupName"]["Fn::Sub"].as_str().unwrap();
            let fixed = sub.replace("${AWS::StackName}", "");
            assert!(fixed.len() + 128 <= 512, "{name}: {sub}");
        }
    }
    // The proxy's name: "rds-enrich-" and the stack id's UUID, 47 characters of 63.
    let t = resolved(&PROXY);
    assert_eq!(
        t["Resources"]["DatabaseProxy"]["Properties"]["DBProxyName"],
        json!({"Fn::Join": ["-", ["rds-enrich", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]]})
    );
}

/// Issue #21, item 5, and issue #23's outputs.
#[test]
fn on_managed_instances_the_providers_are_sized_and_decrypt_env_runs_alone() {
    let t = resolved(
        &[
            &PROXY[..],
            &MANAGED[..],
            &[
                "DeployNaive=true",
                "MaxConcurrencyPerEnvironment=16",
                "Architecture=arm64",
            ],
        ]
        .concat(),
    );
    let r = &t["Resources"];
    for (function, provider) in [
        ("RdsEnrichManagedFunction", "AppCapacityProvider"),
        ("RdsEnrichNaiveManagedFunction", "AppCapacityProvider"),
        ("S3GetObjectManagedFunction", "AppCapacityProvider"),
        ("DecryptEnvManagedFunction", "SecretCapacityProvider"),
    ] {
        let p = &r[function]["Properties"];
        let config = &p["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"];
        assert_eq!(
            config["PerExecutionEnvironmentMaxConcurrency"],
            json!({"Ref": "MaxConcurrencyPerEnvironment"}),
            "{function}"
        );
        let arn = config["CapacityProviderArn"]["Fn::Sub"]
            .as_str()
            .unwrap_or("");
        assert!(
            arn.ends_with(&format!(":capacity-provider:${{{provider}}}")),
            "{function}: {config}"
        );
        let scaling = json!({
            "MinExecutionEnvironments": {"Ref": "MinExecutionEnvironments"},
            "MaxExecutionEnvironments": {"Ref": "MaxExecutionEnvironments"},
        });
        assert_eq!(p["FunctionScalingConfig"], scaling, "{function}");
        let versions: Vec<_> = of_type(&t, "AWS::Lambda::Version")
            .into_iter()
            .filter(|(_, v)| v["Properties"]["FunctionName"] == json!({"Ref": function}))
            .collect();
        assert_eq!(versions.len(), 1, "{function}");
        assert_eq!(
            versions[0].1["Properties"]["FunctionScalingConfig"],
            scaling
        );
        assert!(
            p.get("VpcConfig").is_none(),
            "{function}: the provider has the VPC"
        );
        assert_eq!(p["MemorySize"], 2048, "{function}");
    }
    for provider in ["AppCapacityProvider", "SecretCapacityProvider"] {
        let p = &r[provider]["Properties"];
        assert_eq!(r[provider]["Type"], "AWS::Lambda::CapacityProvider");
        assert_eq!(
            p["InstanceRequirements"],
            json!({"Architectures": [{"Ref": "Architecture"}]}),
            "{provider}: the zips' architecture"
        );
        assert_eq!(
            p["CapacityProviderScalingConfig"]["MaxVCpuCount"],
            json!({"Ref": "MaxVCpuCount"}),
            "{provider}"
        );
    }
    for classic in CLASSIC.map(|(f, _)| f) {
        assert!(r.get(classic).is_none(), "{classic} exists too");
    }
    // The connection budget: DB_MAX_CONNECTIONS from its parameter, bounded, and said.
    let env = &r["RdsEnrichManagedFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        env["DB_MAX_CONNECTIONS"],
        json!({"Ref": "ConnectionsPerEnvironment"})
    );
    let parameters = &t["Parameters"];
    for (name, max) in [
        ("ConnectionsPerEnvironment", 1600),
        ("MaxExecutionEnvironments", 15000),
        ("MaxConcurrencyPerEnvironment", 1600),
        ("ReservedConcurrency", 1000),
    ] {
        assert_eq!(parameters[name]["MaxValue"], max, "{name}");
    }
    let said = parameters["ConnectionsPerEnvironment"]["Description"]
        .as_str()
        .unwrap();
    assert!(
        said.contains("MaxExecutionEnvironments x ConnectionsPerEnvironment")
            && said.contains("MaxExecutionEnvironments x MaxConcurrencyPerEnvironment"),
        "{said}"
    );
    // No ENIs of its own on Managed Instances: the VPC statement is gone.
    assert_grants(
        &t,
        "RdsEnrichRole",
        vec![logs("RdsEnrichLogs"), xray(), rds_db_connect_to_the_proxy()],
    );
    // The aliases are what runs: each one in the Outputs.
    let outputs = &t["Outputs"];
    for (output, function) in [
        ("RdsEnrichAlias", "RdsEnrichManagedFunction"),
        ("RdsEnrichNaiveAlias", "RdsEnrichNaiveManagedFunction"),
        ("S3GetObjectAlias", "S3GetObjectManagedFunction"),
        ("DecryptEnvAlias", "DecryptEnvManagedFunction"),
    ] {
        let alias = format!("{function}Aliaslive");
        assert_eq!(r[&alias]["Type"], "AWS::Lambda::Alias");
        assert_eq!(outputs[output]["Value"], json!({"Ref": alias}), "{output}");
    }
}

/// Issue #23's harness reads the names from the Outputs, the single source for them.
#[test]
fn the_outputs_name_every_function_and_the_proxy() {
    for (params, functions) in [
        ([&PROXY[..], &["DeployNaive=true"]].concat(), CLASSIC),
        (
            [&PROXY[..], &MANAGED[..], &["DeployNaive=true"]].concat(),
            ON_MANAGED_INSTANCES,
        ),
    ] {
        let t = resolved(&params);
        let outputs = &t["Outputs"];
        for ((output, _), (function, _)) in CLASSIC.iter().zip(functions) {
            assert_eq!(outputs[output]["Value"], json!({"Ref": function}));
        }
        assert_eq!(
            outputs["DecryptEnvFunctionUrl"]["Value"],
            get_att(&format!("{}Url", functions[3].0), "FunctionUrl")
        );
        assert_eq!(
            outputs["DatabaseProxyName"]["Value"],
            json!({"Ref": "DatabaseProxy"})
        );
    }
    let outputs = &resolved(&DIRECT)["Outputs"];
    assert!(outputs.get("DatabaseProxyName").is_none());
    assert!(
        outputs.get("RdsEnrichNaiveFunction").is_none(),
        "naive is off by default"
    );
}

/// Issue #20: decrypt-env receives webhooks on a function URL whose authentication is the
/// signature; the public may invoke it through that URL only.
#[test]
fn decrypt_env_has_a_public_url_that_invokes_it_and_nothing_else() {
    for (params, function, target) in [
        (
            PROXY.to_vec(),
            "DecryptEnvFunction",
            json!({"Ref": "DecryptEnvFunction"}),
        ),
        (
            [&PROXY[..], &MANAGED[..]].concat(),
            "DecryptEnvManagedFunction",
            json!({"Ref": "DecryptEnvManagedFunctionAliaslive"}),
        ),
    ] {
        let t = resolved(&params);
        let urls = of_type(&t, "AWS::Lambda::Url");
        assert_eq!(urls.len(), 1, "one URL, decrypt-env's");
        let url = &urls[0].1["Properties"];
        assert_eq!(url["AuthType"], "NONE");
        assert_eq!(url["TargetFunctionArn"], target, "{function}");
        let public: Vec<Value> = of_type(&t, "AWS::Lambda::Permission")
            .into_iter()
            .filter(|(_, p)| p["Properties"]["Principal"] == "*")
            .map(|(_, p)| p["Properties"].clone())
            .collect();
        assert_eq!(
            public,
            vec![
                json!({"Action": "lambda:InvokeFunction", "FunctionName": target,
                       "InvokedViaFunctionUrl": true, "Principal": "*"}),
                json!({"Action": "lambda:InvokeFunctionUrl", "FunctionName": target,
                       "FunctionUrlAuthType": "NONE", "Principal": "*"}),
            ],
            "{function}"
        );
        let env = &t["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert_eq!(*env, json!({"ENCRYPTED_KEY": {"Ref": "EncryptedSecret"}}));
    }
    // On classic Lambda, a ceiling on what unsigned requests can run up.
    let t = resolved(&PROXY);
    assert_eq!(
        t["Resources"]["DecryptEnvFunction"]["Properties"]["ReservedConcurrentExecutions"],
        json!({"Ref": "WebhookReservedConcurrency"})
    );
}

/// Issue #21, item 6: the bucket, its invoke permission, the key.
#[test]
fn the_bucket_the_invoke_permission_and_the_key_are_locked_down() {
    for (params, function) in [
        (PROXY.to_vec(), get_att("S3GetObjectFunction", "Arn")),
        (
            [&PROXY[..], &MANAGED[..]].concat(),
            json!({"Ref": "S3GetObjectManagedFunctionAliaslive"}),
        ),
    ] {
        let t = resolved(&params);
        let r = &t["Resources"];
        let bucket = &r["ObjectsBucket"]["Properties"];
        assert_eq!(
            bucket["OwnershipControls"],
            json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        );
        assert_eq!(
            bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"],
            json!([{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}])
        );
        assert_eq!(
            bucket["VersioningConfiguration"],
            json!({"Status": "Enabled"})
        );
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"],
            json!({"BlockPublicAcls": true, "BlockPublicPolicy": true,
                   "IgnorePublicAcls": true, "RestrictPublicBuckets": true})
        );
        let bucket_policy = &r["ObjectsBucketPolicy"]["Properties"];
        assert_eq!(bucket_policy["Bucket"], json!({"Ref": "ObjectsBucket"}));
        assert_denies_without_tls(
            &bucket_policy["PolicyDocument"],
            &get_att("ObjectsBucket", "Arn"),
        );
        assert_denies_without_tls(
            &bucket_policy["PolicyDocument"],
            &json!({"Fn::Sub": "${ObjectsBucket.Arn}/*"}),
        );
        // The bucket invokes the function (the alias on Managed Instances) on every
        // ObjectCreated event, and only this bucket may.
        let notify = &bucket["NotificationConfiguration"];
        assert_eq!(
            notify["LambdaConfigurations"],
            json!([{"Event": "s3:ObjectCreated:*", "Function": function}])
        );
        let from_s3: Vec<&Value> = of_type(&t, "AWS::Lambda::Permission")
            .into_iter()
            .map(|(_, p)| &p["Properties"])
            .filter(|p| p["Principal"] == "s3.amazonaws.com")
            .collect();
        let target = match function.get("Fn::GetAtt") {
            Some(_) => json!({"Ref": "S3GetObjectFunction"}),
            None => function.clone(),
        };
        assert_eq!(
            from_s3,
            vec![&json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": target,
                "Principal": "s3.amazonaws.com",
                "SourceAccount": {"Ref": "AWS::AccountId"},
                "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ObjectsBucketName}"},
            })]
        );
        assert_eq!(
            r["ObjectsBucket"]["DependsOn"],
            "S3GetObjectInvokePermission"
        );
    }

    // The key outlives the stack, and its policy separates administration from use, under
    // the name of decrypt-env's function on either compute model.
    for (params, function) in [
        (PROXY.to_vec(), "DecryptEnvFunction"),
        (
            [&PROXY[..], &MANAGED[..]].concat(),
            "DecryptEnvManagedFunction",
        ),
    ] {
        let t = resolved(&params);
        let key = &t["Resources"]["SecretKey"];
        assert_eq!(key["DeletionPolicy"], "Retain");
        assert_eq!(key["UpdateReplacePolicy"], "Retain");
        assert_eq!(key["Properties"]["EnableKeyRotation"], true);
        assert_eq!(
            t["Resources"]["SecretKeyAlias"]["Properties"],
            json!({"AliasName": {"Fn::Sub": "alias/${AWS::StackName}/decrypt-env"},
                   "TargetKeyId": {"Ref": "SecretKey"}})
        );
        let root = json!({"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}});
        let context = json!({"StringEquals": {
            "kms:EncryptionContext:LambdaFunctionName": {"Ref": function}
        }});
        let using = [
            "kms:Decrypt",
            "kms:ReEncrypt",
            "kms:GenerateDataKey",
            "kms:CreateGrant",
        ];
        let mut sids = Vec::new();
        for s in key["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .unwrap()
        {
            assert_eq!(s["Effect"], "Allow", "{s}");
            let acts = strings(&s["Action"]);
            assert!(acts.iter().all(|a| !a.contains('*')), "{s}");
            let uses: Vec<&String> = acts
                .iter()
                .filter(|a| using.iter().any(|u| a.starts_with(u)) || *a == "kms:Encrypt")
                .collect();
            match s["Sid"].as_str().unwrap() {
                "Administration" => {
                    assert_eq!(s["Principal"], root);
                    assert!(uses.is_empty(), "administration uses the key: {uses:?}");
                }
                "EncryptTheSecret" => {
                    assert_eq!((&s["Principal"], &s["Condition"]), (&root, &context));
                    assert_eq!(acts, actions(&["kms:Encrypt"]));
                }
                "DecryptForDecryptEnv" => {
                    assert_eq!(
                        s["Principal"],
                        json!({"AWS": get_att("DecryptEnvRole", "Arn")})
                    );
                    assert_eq!(s["Condition"], context);
                    assert_eq!(acts, actions(&["kms:Decrypt"]));
                }
                other => panic!("unexpected key policy statement {other}: {s}"),
            }
            sids.push(s["Sid"].as_str().unwrap().to_string());
        }
        assert_eq!(sids.len(), 3);
    }
}

/// docs/deploy.md's IAM table names exactly the actions the template grants each function.
#[test]
fn deploy_docs_iam_table_matches_the_template() {
    let deploy = std::fs::read_to_string(workspace_root().join("docs/deploy.md")).unwrap();
    let t = resolved(&[&PROXY[..], &["DeployNaive=true"]].concat());
    for (row, role) in [
        ("| `rds-enrich`", "RdsEnrichRole"),
        ("| `s3-get-object`", "S3GetObjectRole"),
        ("| `decrypt-env`", "DecryptEnvRole"),
    ] {
        let line = deploy
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("docs/deploy.md has no row {row}"));
        let permissions = line.rsplit('|').nth(1).unwrap();
        let listed: BTreeSet<String> = permissions
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
            // `service:Action`: one colon, a lowercase service (ARNs and condition keys
            // have more colons).
            .filter(|w| {
                w.split_once(':').is_some_and(|(service, action)| {
                    !service.is_empty()
                        && service
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
                        && !action.is_empty()
                        && action.chars().all(|c| c.is_ascii_alphabetic())
                })
            })
            .map(String::from)
            .collect();
        let granted: BTreeSet<String> = grants(&t, role).into_iter().flat_map(|g| g.0).collect();
        assert_eq!(listed, granted, "docs/deploy.md row {row} against {role}");
    }
}

/// What moto 5.2.1's CloudFormation does not implement, of the classic, direct stack: it
/// skips them (they are checked on the transformed template above).
const MOTO_CANNOT_CREATE: [&str; 4] = [
    "DecryptEnvFunctionUrl",
    "FailedEventsQueuePolicy",
    "ObjectsBucketPolicy",
    "S3GetObjectFunctionEventInvokeConfig",
];

/// The stack itself, created on moto's CloudFormation from the zips of `make zip`, as
/// `sam deploy` would: moto runs neither the SAM transform (scripts/sam-transform.py
/// does) nor RDS Proxy or Managed Instances (the classic stack with a direct database is
/// created here; the other parameters are checked on the transformed template above).
#[test]
fn the_stack_is_created_on_moto_from_the_zips() {
    let services = Services::load();
    let stack = format!("stack{}", std::process::id());
    let bucket = format!("{stack}-objects");
    let params = [
        format!("ObjectsBucketName={bucket}"),
        "DatabaseTarget=direct".into(),
        "DatabaseHost=db.internal".into(),
        "DatabaseResourceId=db-ABCDEFGHIJKLMNOPQRSTUVWXY0".into(),
        "DeployNaive=true".into(),
        "EncryptedSecret=AQICAHh".into(),
    ];
    let out = Command::new("python3")
        .arg(workspace_root().join("scripts/moto-stack.py"))
        .args([
            "--endpoint",
            services.var("AWS_ENDPOINT_URL"),
            "--stack",
            &stack,
            // The VPC, subnets, database group and CA layer the parameters name.
            "--prerequisites",
        ])
        .args(&params)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["status"], "CREATE_COMPLETE", "{created:#}");
    let given = &created["parameters"];
    let physical = |logical: &str| created["physical"][logical].as_str().unwrap().to_string();

    // Every resource CloudFormation would create for these parameters, but those moto
    // cannot, and no other.
    let all_params: Vec<String> = given
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .collect();
    let resolved = resolved(&all_params.iter().map(String::as_str).collect::<Vec<_>>());
    let want: BTreeSet<&str> = resolved["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|r| !MOTO_CANNOT_CREATE.contains(r))
        .collect();
    let have: BTreeSet<&str> = created["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[0].as_str().unwrap())
        .collect();
    assert_eq!(have, want);
    let unsupported = created["unsupported"].as_array().unwrap();
    for r in MOTO_CANNOT_CREATE {
        assert!(unsupported.contains(&json!(r)), "moto now creates {r}");
    }

    let url = "mysql://app@db.internal:3306/app?require_ssl=true";
    let database = json!({"DATABASE_URL": url, "DATABASE_IAM_AUTH": "true",
                          "DATABASE_CA_FILE": "/opt/rds/global-bundle.pem",
                          "DB_MAX_CONNECTIONS": "1"});
    for (logical, zip, role, env) in [
        (
            "RdsEnrichFunction",
            "rds-enrich",
            "RdsEnrichRole",
            database.clone(),
        ),
        (
            "RdsEnrichNaiveFunction",
            "rds-enrich-naive",
            "RdsEnrichNaiveRole",
            database,
        ),
        (
            "S3GetObjectFunction",
            "s3-get-object",
            "S3GetObjectRole",
            Value::Null,
        ),
        (
            "DecryptEnvFunction",
            "decrypt-env",
            "DecryptEnvRole",
            json!({"ENCRYPTED_KEY": "AQICAHh"}),
        ),
    ] {
        let f = &created["functions"][logical];
        assert_eq!(f["Runtime"], "provided.al2023", "{logical}");
        assert_eq!(f["Handler"], "bootstrap", "{logical}");
        assert_eq!(
            f["CodeSize"], created["zip_bytes"][zip],
            "{logical}: the zip as built"
        );
        let arn = f["Role"].as_str().unwrap();
        assert!(
            arn.ends_with(&format!("/{}", physical(role))),
            "{logical}: {arn}"
        );
        assert_eq!(f["Environment"]["Variables"], env, "{logical}");
        // The Outputs say the function names CloudFormation chose.
        assert_eq!(created["outputs"][logical], f["FunctionName"], "{logical}");
        let group = format!("/aws/lambda/{stack}/{zip}");
        assert_eq!(created["log_groups"][&group], 30, "{group}");
    }
    let rds = &created["functions"]["RdsEnrichFunction"]["VpcConfig"];
    assert_eq!(
        rds["SecurityGroupIds"],
        json!([physical("AppSecurityGroup")])
    );
    let subnets: Vec<&str> = given["SubnetIds"].as_str().unwrap().split(',').collect();
    assert_eq!(rds["SubnetIds"], json!(subnets));

    // The database admits rds-enrich's group on its port; nothing comes into that group.
    let groups = &created["security_groups"];
    assert_eq!(
        groups["(DatabaseSecurityGroupId)"]["ingress"],
        json!([{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
                "GroupId": physical("AppSecurityGroup")}])
    );
    assert_eq!(groups["AppSecurityGroup"]["ingress"], json!([]));

    // The bucket ARN built with !Sub resolves to this stack's bucket; only it may invoke
    // s3-get-object; failed events go to the queue, which keeps them 14 days, encrypted.
    let head_object = &created["policies"]["S3GetObjectRole"]["head-object"];
    assert_eq!(
        head_object["Statement"][0]["Resource"],
        format!("arn:aws:s3:::{bucket}/*")
    );
    let queue = &created["queues"]["FailedEventsQueue"];
    assert_eq!(queue["SqsManagedSseEnabled"], "true");
    assert_eq!(queue["MessageRetentionPeriod"], "1209600");
    assert_eq!(
        created["policies"]["S3GetObjectRole"]["failed-events"]["Statement"][0]["Resource"],
        queue["QueueArn"]
    );
    let invoke = &created["functions"]["S3GetObjectFunction"]["Policy"]["Statement"];
    assert_eq!(invoke.as_array().unwrap().len(), 1, "{invoke}");
    assert_eq!(
        invoke[0]["Principal"],
        json!({"Service": "s3.amazonaws.com"})
    );
    assert_eq!(
        invoke[0]["Condition"],
        json!({"ArnLike": {"AWS:SourceArn": format!("arn:aws:s3:::{bucket}")},
               "StringEquals": {"AWS:SourceAccount": "123456789012"}})
    );
    let webhook = &created["functions"]["DecryptEnvFunction"]["Policy"]["Statement"];
    let public: BTreeSet<String> = webhook
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["Principal"], "*");
            let only = s
                .get("InvokedViaFunctionUrl")
                .or(s.get("FunctionUrlAuthType"));
            format!("{} {}", s["Action"].as_str().unwrap(), only.unwrap())
        })
        .collect();
    assert_eq!(
        public,
        BTreeSet::from([
            "lambda:InvokeFunction true".to_string(),
            "lambda:InvokeFunctionUrl \"NONE\"".to_string(),
        ])
    );

    // decrypt-env's role decrypts under its function's name; nobody else decrypts.
    let key = &created["keys"]["SecretKey"];
    assert_eq!(key["RotationEnabled"], true);
    assert_eq!(
        key["Aliases"],
        json!([format!("alias/{stack}/decrypt-env")])
    );
    let decrypt_env = created["outputs"]["DecryptEnvFunction"].as_str().unwrap();
    let decrypts: Vec<&Value> = key["Policy"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| strings(&s["Action"]).contains("kms:Decrypt"))
        .collect();
    assert_eq!(decrypts.len(), 1);
    assert!(decrypts[0]["Principal"]["AWS"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":role/{}", physical("DecryptEnvRole"))));
    assert_eq!(
        decrypts[0]["Condition"]["StringEquals"]["kms:EncryptionContext:LambdaFunctionName"],
        decrypt_env
    );

    // What moto does not apply, reported rather than asserted (each is asserted on the
    // transformed template above).
    eprintln!(
        "moto could not create {MOTO_CANNOT_CREATE:?} (moto-stack.py leaves out the \
         outputs that name a type moto does not implement: {}); it \
         does not apply the bucket's notification ({}), versioning ({}), the functions' \
         LoggingConfig ({}), TracingConfig ({}) or Layers ({}), nor a security group's \
         egress rules (AppSecurityGroup egress: {})",
        created["outputs_left_out"],
        created["bucket_notification"],
        created["bucket_versioning"],
        created["functions"]["RdsEnrichFunction"]["LoggingConfig"],
        created["functions"]["RdsEnrichFunction"]["TracingConfig"],
        created["functions"]["RdsEnrichFunction"]["Layers"],
        groups["AppSecurityGroup"]["egress"],
    );
}
