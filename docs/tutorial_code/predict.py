# docs/tutorial_code/predict.py
"""Steps 7 and 8 with MLflow alone: load a registered model by alias and predict."""

import mlflow
import pandas as pd

mlflow.set_tracking_uri("sqlite:///mlflow.db")

model = mlflow.pyfunc.load_model("models:/diabetes-elasticnet@champion")
patients = pd.DataFrame(
    [
        [47, 1, 30.3, 109, 207, 100.2, 70, 3, 5.2149, 98],
        [60, 2, 25.1, 90, 180, 110, 45, 4, 4.9, 85],
    ],
    columns=["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"],
)
# The signature says every column is a double: integers would be refused, as the
# server of step 7 would refuse them (a 400 error naming the column).
print(model.predict(patients.astype("float64")).tolist())
