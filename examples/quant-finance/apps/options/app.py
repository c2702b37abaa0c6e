import streamlit as st

st.title("options")
