"""Batch prediction the plain-MLflow way: load the model with pyfunc, read the CSV with
pandas, predict the whole frame, write the predictions as CSV.

    MLFLOW_TRACKING_URI=... python plain_predict.py MODEL_URI INPUT.csv OUTPUT.csv
"""

import sys
import warnings

import mlflow.pyfunc
import pandas as pd

warnings.filterwarnings("ignore")
model_uri, source, target = sys.argv[1:4]
model = mlflow.pyfunc.load_model(model_uri)
frame = pd.read_csv(source)
predictions = model.predict(frame)
pd.DataFrame({"prediction": predictions}).to_csv(target, index=False)
