//! Least privilege as a test: template.yaml, transformed offline by aws-sam-translator
//! (scripts/sam-transform.py) and resolved for a set of parameters, gives each function a
//! role that allows exactly what the function calls, on exactly its resources. README's IAM
//! table lists the same actions. No AWS account: this reads the template only.

use std::collections::BTreeSet;
use std::process::Command;

use e2e::{workspace_root, Services};
use serde_json::{json, Value};

/// The template as CloudFormation would create it for `params`.
fn resolved(params: &[&str]) -> Value {
    let root = workspace_root();
    let out = Command::new("python3")
        .arg(root.join("scripts/sam-transform.py"))
        .arg("--resolve")
        .arg("ObjectsBucketName=objects-bucket")
        .arg("DatabaseSecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:db")
        .args(params)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "sam-transform.py failed (make e2e installs aws-sam-translator):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
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

/// Every statement of the role's inline policies; fails on managed policies and Deny-less
/// surprises (only Allow statements are written).
fn grants(template: &Value, role: &str) -> Vec<Grant> {
    let props = &template["Resources"][role]["Properties"];
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
    grants
}

fn actions(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn logs(group: &str) -> Grant {
    (
        actions(&["logs:CreateLogStream", "logs:PutLogEvents"]),
        json!({"Fn::GetAtt": [group, "Arn"]}),
        Value::Null,
    )
}

const VPC_ENI: [&str; 5] = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
];

fn rds_db_connect() -> Grant {
    (
        actions(&["rds-db:connect"]),
        json!({"Fn::Sub": [
            "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ProxyId}/${DatabaseUser}",
            {"ProxyId": {"Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["DatabaseProxy", "DBProxyArn"]}]}]}}
        ]}),
        Value::Null,
    )
}

fn assert_grants(template: &Value, role: &str, mut want: Vec<Grant>) {
    let mut have = grants(template, role);
    let key = |g: &Grant| format!("{:?}", g);
    have.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(have, want, "{role}");
}

/// No wildcard action anywhere, and "*" as a resource only for the ENI actions, which
/// take no resource ARN.
fn assert_no_wildcards(template: &Value, role: &str) {
    for (actions, resource, _) in grants(template, role) {
        for action in &actions {
            assert!(!action.contains('*'), "{role}: wildcard action {action}");
        }
        if resource == "*" {
            assert!(
                actions.iter().all(|a| VPC_ENI.contains(&a.as_str())),
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

#[test]
fn classic_with_rds_proxy_each_role_allows_exactly_what_its_function_calls() {
    let t = resolved(&["DeployNaive=true"]);
    let roles = [
        ("RdsEnrichFunction", "RdsEnrichRole"),
        ("RdsEnrichNaiveFunction", "RdsEnrichNaiveRole"),
        ("S3GetObjectFunction", "S3GetObjectRole"),
        ("DecryptEnvFunction", "DecryptEnvRole"),
    ];
    for (function, role) in roles {
        assert_eq!(function_role(&t, function), role);
        assert_no_wildcards(&t, role);
    }
    let eni = (actions(&VPC_ENI), json!("*"), Value::Null);
    assert_grants(
        &t,
        "RdsEnrichRole",
        vec![logs("RdsEnrichLogs"), rds_db_connect(), eni.clone()],
    );
    assert_grants(
        &t,
        "RdsEnrichNaiveRole",
        vec![logs("RdsEnrichNaiveLogs"), rds_db_connect(), eni],
    );
    assert_grants(
        &t,
        "S3GetObjectRole",
        vec![
            logs("S3GetObjectLogs"),
            (
                actions(&["s3:GetObject", "s3:GetObjectVersion"]),
                json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${ObjectsBucketName}/*"}),
                Value::Null,
            ),
        ],
    );
    assert_grants(
        &t,
        "DecryptEnvRole",
        vec![
            logs("DecryptEnvLogs"),
            (
                actions(&["kms:Decrypt"]),
                json!({"Fn::GetAtt": ["SecretKey", "Arn"]}),
                json!({"StringEquals": {
                    "kms:EncryptionContext:LambdaFunctionName": {"Fn::Sub": "${AWS::StackName}-decrypt-env"}
                }}),
            ),
        ],
    );
}

#[test]
fn classic_with_rds_proxy_the_functions_are_configured_as_the_readme_says() {
    let t = resolved(&[]);
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
    assert!(rds["VpcConfig"]["SubnetIds"].is_object());
    assert_eq!(
        rds["ReservedConcurrentExecutions"],
        json!({"Ref": "ReservedConcurrency"})
    );
    let env = &rds["Environment"]["Variables"];
    assert_eq!(env["DATABASE_IAM_AUTH"], "true");
    let url = env["DATABASE_URL"]["Fn::Sub"].as_str().unwrap();
    assert!(
        url.starts_with("mysql://${DatabaseUser}@${DatabaseProxy.Endpoint}:3306/")
            && url.ends_with("?require_ssl=true"),
        "{url}: no password, TLS required"
    );
    let proxy = &r["DatabaseProxy"]["Properties"];
    assert_eq!(proxy["RequireTLS"], true);
    assert_eq!(proxy["Auth"][0]["IAMAuth"], "REQUIRED");
    // The bucket invokes the function on every ObjectCreated event.
    let notify = &r["ObjectsBucket"]["Properties"]["NotificationConfiguration"];
    assert_eq!(
        notify["LambdaConfigurations"],
        json!([{"Event": "s3:ObjectCreated:*",
                "Function": {"Fn::GetAtt": ["S3GetObjectFunction", "Arn"]}}])
    );
}

#[test]
fn with_a_database_url_there_is_no_proxy_and_no_rds_db_grant() {
    let t = resolved(&["DatabaseTarget=url"]);
    assert!(t["Resources"].get("DatabaseProxy").is_none());
    let eni = (actions(&VPC_ENI), json!("*"), Value::Null);
    assert_grants(&t, "RdsEnrichRole", vec![logs("RdsEnrichLogs"), eni]);
    let env = &t["Resources"]["RdsEnrichFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["DATABASE_URL"], json!({"Ref": "DatabaseUrl"}));
    assert_eq!(env["DATABASE_IAM_AUTH"], "false");
}

#[test]
fn on_managed_instances_every_function_runs_on_the_capacity_provider() {
    let t = resolved(&[
        "ComputeModel=managed-instances",
        "MaxConcurrencyPerEnvironment=16",
    ]);
    let r = &t["Resources"];
    for function in [
        "RdsEnrichManagedFunction",
        "S3GetObjectManagedFunction",
        "DecryptEnvManagedFunction",
    ] {
        let p = &r[function]["Properties"];
        let config = &p["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"];
        assert_eq!(
            config["PerExecutionEnvironmentMaxConcurrency"],
            json!({"Ref": "MaxConcurrencyPerEnvironment"}),
            "{function}"
        );
        assert!(
            config["CapacityProviderArn"]["Fn::Sub"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(":capacity-provider:${CapacityProvider}")),
            "{function}: {config}"
        );
        assert!(
            p.get("VpcConfig").is_none(),
            "{function}: the provider has the VPC"
        );
    }
    for classic in [
        "RdsEnrichFunction",
        "S3GetObjectFunction",
        "DecryptEnvFunction",
    ] {
        assert!(r.get(classic).is_none(), "{classic} exists too");
    }
    assert_eq!(
        r["CapacityProvider"]["Type"],
        "AWS::Lambda::CapacityProvider"
    );
    // No ENIs of its own on Managed Instances: the VPC statement is gone.
    assert_grants(
        &t,
        "RdsEnrichRole",
        vec![logs("RdsEnrichLogs"), rds_db_connect()],
    );
}

/// README's IAM table names exactly the actions the template grants each function.
#[test]
fn readme_iam_table_matches_the_template() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let t = resolved(&["DeployNaive=true"]);
    for (row, role) in [
        ("| `rds-enrich`", "RdsEnrichRole"),
        ("| `s3-get-object`", "S3GetObjectRole"),
        ("| `decrypt-env`", "DecryptEnvRole"),
    ] {
        let line = readme
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("README has no row {row}"));
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
        assert_eq!(listed, granted, "README row {row} against {role}");
    }
}

/// The stack itself, created on moto's CloudFormation from the zips of `make zip`, as
/// `sam deploy` would: moto runs neither the SAM transform (scripts/sam-transform.py
/// does) nor RDS Proxy or Managed Instances (the classic, database-URL stack is created
/// here; the other parameters are checked on the transformed template above).
#[test]
fn the_stack_is_created_on_moto_from_the_zips() {
    let services = Services::load();
    let stack = format!("stack{}", std::process::id());
    let bucket = format!("{stack}-objects");
    let params = [
        format!("ObjectsBucketName={bucket}"),
        "DatabaseTarget=url".into(),
        "DatabaseUrl=mysql://app:pw@db.internal:3306/app?require_ssl=true".into(),
        "DatabaseSecretArn=unused".into(),
        "SubnetIds=subnet-0123".into(),
        "SecurityGroupIds=sg-0123".into(),
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

    // Every resource CloudFormation would create for these parameters, and no other.
    let param_refs: Vec<&str> = params.iter().map(String::as_str).collect();
    let resolved = resolved(&param_refs);
    let want: BTreeSet<&str> = resolved["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let have: BTreeSet<&str> = created["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[0].as_str().unwrap())
        .collect();
    assert_eq!(have, want);

    let role_of = |logical: &str| created["roles"][logical].as_str().unwrap().to_string();
    for (function, role, env) in [
        (
            "rds-enrich",
            "RdsEnrichRole",
            json!({"DATABASE_URL": "mysql://app:pw@db.internal:3306/app?require_ssl=true",
                   "DATABASE_IAM_AUTH": "false"}),
        ),
        (
            "rds-enrich-naive",
            "RdsEnrichNaiveRole",
            json!({"DATABASE_URL": "mysql://app:pw@db.internal:3306/app?require_ssl=true",
                   "DATABASE_IAM_AUTH": "false"}),
        ),
        ("s3-get-object", "S3GetObjectRole", Value::Null),
        (
            "decrypt-env",
            "DecryptEnvRole",
            json!({"ENCRYPTED_KEY": "AQICAHh"}),
        ),
    ] {
        let f = &created["functions"][function];
        assert_eq!(f["Runtime"], "provided.al2023", "{function}");
        assert_eq!(f["Handler"], "bootstrap", "{function}");
        assert_eq!(
            f["CodeSize"], created["zip_bytes"][function],
            "{function}: the zip as built"
        );
        let arn = f["Role"].as_str().unwrap();
        assert!(
            arn.ends_with(&format!("/{}", role_of(role))),
            "{function}: {arn}"
        );
        assert_eq!(f["Environment"]["Variables"], env, "{function}");
        let group = format!("/aws/lambda/{stack}-{function}");
        assert_eq!(created["log_groups"][&group], 30, "{group}");
    }
    // The bucket ARN built with !Sub resolves to this stack's bucket.
    assert_eq!(
        created["policies"]["S3GetObjectRole"]["head-object"]["Statement"][0]["Resource"],
        format!("arn:aws:s3:::{bucket}/*")
    );
    // What moto does not apply, reported rather than asserted: the bucket's notification
    // (asserted on the transformed template) and each function's LoggingConfig.
    eprintln!(
        "moto left out: bucket notification {}, LoggingConfig {}",
        created["bucket_notification"], created["functions"]["rds-enrich"]["LoggingConfig"]
    );
}
