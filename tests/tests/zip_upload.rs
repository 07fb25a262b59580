//! The zips from `make zip` are accepted by a Lambda API (moto's), with the AWS CLI
//! commands docs/deploy.md gives: create-function, get-function, update-function-code.

use std::process::Command;

use e2e::{run, workspace_root, Services};
use serde_json::Value;

const FUNCTIONS: [&str; 4] = [
    "rds-enrich",
    "rds-enrich-naive",
    "s3-get-object",
    "decrypt-env",
];

fn aws(services: &Services, args: &[&str]) -> Value {
    let out = run(Command::new("aws")
        .args(args)
        .args([
            "--endpoint-url",
            services.var("AWS_ENDPOINT_URL"),
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"));
    serde_json::from_str(&out).unwrap_or(Value::Null)
}

#[test]
fn every_zip_is_accepted_by_create_function_and_update_function_code() {
    let services = Services::load();
    let suffix = std::process::id();
    let role = aws(
        &services,
        &[
            "iam",
            "create-role",
            "--role-name",
            &format!("lambda-reuse-e2e-{suffix}"),
            "--assume-role-policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        ],
    );
    let role_arn = role["Role"]["Arn"].as_str().unwrap().to_string();

    for function in FUNCTIONS {
        let zip = workspace_root()
            .join("target/lambda")
            .join(function)
            .join("bootstrap.zip");
        let zip_size = std::fs::metadata(&zip).expect("run `make zip` first").len();
        let zip_arg = format!("fileb://{}", zip.display());
        let name = format!("{function}-{suffix}");

        let created = aws(
            &services,
            &[
                "lambda",
                "create-function",
                "--function-name",
                &name,
                "--runtime",
                "provided.al2023",
                "--architectures",
                "x86_64",
                "--handler",
                "bootstrap",
                "--role",
                &role_arn,
                "--zip-file",
                &zip_arg,
            ],
        );
        assert_eq!(created["Runtime"], "provided.al2023");
        assert_eq!(created["Handler"], "bootstrap");

        let got = aws(
            &services,
            &["lambda", "get-function", "--function-name", &name],
        );
        assert_eq!(
            got["Configuration"]["CodeSize"].as_u64(),
            Some(zip_size),
            "{function}"
        );

        let updated = aws(
            &services,
            &[
                "lambda",
                "update-function-code",
                "--function-name",
                &name,
                "--zip-file",
                &zip_arg,
            ],
        );
        assert_eq!(updated["CodeSize"].as_u64(), Some(zip_size), "{function}");

        aws(
            &services,
            &["lambda", "delete-function", "--function-name", &name],
        );
    }
    aws(
        &services,
        &[
            "iam",
            "delete-role",
            "--role-name",
            &format!("lambda-reuse-e2e-{suffix}"),
        ],
    );
}
