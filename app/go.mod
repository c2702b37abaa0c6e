module appstack/app

go 1.26
