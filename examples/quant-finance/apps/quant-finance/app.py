import streamlit as st

st.title("quant-finance")
