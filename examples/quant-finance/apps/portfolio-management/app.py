import streamlit as st

st.title("portfolio-management")
